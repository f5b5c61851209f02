#!/usr/bin/env node
// The `kubecontrol` command: loads the TypeScript CLI through tsx, both its ESM loader and its
// CommonJS hook (a KubeApps repository made by `npm init` is CommonJS: its .ts files are required).
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

// The AWS SDK warns on every run that Node 20 leaves its support in 2026; Node 20 is what our
// machines have (see the README), and `aws check` must print checks, not that notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

registerEsm();
registerCjs();
await import('./main.ts');
