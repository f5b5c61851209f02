import { withDefaults } from 'kubecontrol';

/**
 * Example Corp's defaults for every KubeApp, written once as code and imported by each app
 * (`defaults.ts` and files starting with `_` are not apps: the loader skips them). An app's
 * own value always wins; groups such as `dns` merge field by field (see `withDefaults`).
 */
export const defineApp = withDefaults({
  dns: { zone: 'example.com', ttlSeconds: 60 },
  approvalTimeoutMinutes: 30,
  channel: '#deploys',
  refresh: { timezone: 'UTC' },
});
