/** Imported first by bench/run.ts: what the bench's processes need before any SDK is loaded. */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
export {};
