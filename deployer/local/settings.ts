/**
 * The local provider's settings from environment variables, validated at
 * start (zod): one clear line per malformed value, naming the variable and
 * echoing the value. The composition root calls `loadLocalSettings` with the
 * process environment; nothing in the provider reads the environment itself.
 */
import { delimiter, join } from 'node:path';
import { z } from 'zod';

/** The validated settings of the local provider. */
export interface LocalSettings {
  /** KUBECONTROL_LOCAL_CONTEXT: the kubeconfig context to use (any cluster). @default the current context, if it looks like a laptop cluster */
  readonly context?: string;
  /** KUBECONTROL_LOCAL_REGISTRY without a trailing slash, e.g. `localhost:5001`: prefixes image names. @default none */
  readonly registryPrefix?: string;
  /** KUBECONTROL_LOCAL_BUILD_COMMAND split on spaces: the build command of apps without `aws.buildCommand`. @default none */
  readonly buildCommand?: readonly string[];
  /**
   * The kubeconfig files, in kubectl's order: KUBECONFIG's entries, else `$HOME/.kube/config`.
   * Files that do not exist are skipped when loaded, as kubectl does.
   */
  readonly kubeconfigFiles: readonly string[];
}

/** What `loadLocalSettings` answers: the settings, or every problem (one line each). */
export type LocalSettingsResult = { readonly ok: true; readonly settings: LocalSettings } | { readonly ok: false; readonly problems: readonly string[] };

/** An empty variable counts as unset (as `FOO= npm start` or an empty line in a .env file mean). */
const unsetIfEmpty = (v: unknown): unknown => (v === '' ? undefined : v);

// Characters that would make a value mean something else than it looks: control characters and surrounding blanks.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** `host[:port][/path]`: a registry host (name, IPv4 or [IPv6]) with an optional port and repository path. */
const REGISTRY = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

const schema = z.object({
  KUBECONTROL_LOCAL_CONTEXT: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .refine((v) => v.trim() === v && !CONTROL.test(v), { message: 'must be a kubeconfig context name, without surrounding blanks or control characters', abort: true })
      .optional(),
  ),
  KUBECONTROL_LOCAL_REGISTRY: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .refine((v) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(v), { message: 'must be a registry host without a scheme, like localhost:5001 (drop the http:// or https://)', abort: true })
      .refine((v) => REGISTRY.test(v.replace(/\/+$/, '')), { message: 'must be host[:port][/path] in lowercase, like localhost:5001 or registry.example.com/team', abort: true })
      .refine((v) => Number(/:([0-9]+)$/.exec(v.split('/')[0]!)?.[1] ?? 0) <= 65535, { message: 'has a port above 65535', abort: true })
      .optional(),
  ),
  KUBECONTROL_LOCAL_BUILD_COMMAND: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .refine((v) => v.trim() !== '', { message: 'is blank; unset it or give a command', abort: true })
      // Split on spaces, so quotes would reach the program as part of its arguments.
      .refine((v) => !/["'\\]/.test(v), { message: "is split on spaces and understands no quotes or backslashes; put a command that needs them in a script, or in the app's aws.buildCommand", abort: true })
      .refine((v) => !CONTROL.test(v.replace(/[\t\n\r]/g, ' ')), { message: 'must not contain control characters', abort: true })
      .optional(),
  ),
  KUBECONFIG: z.string().optional(),
  HOME: z.string().optional(),
  USERPROFILE: z.string().optional(),
});

/**
 * Reads the local provider's settings from `env` (the composition root passes
 * the process environment). KUBECONTROL_LOCAL_CONTEXT, KUBECONTROL_LOCAL_REGISTRY and
 * KUBECONTROL_LOCAL_BUILD_COMMAND are checked; every malformed value is one
 * line `NAME: what is wrong (got: "value")`.
 */
export function loadLocalSettings(env: NodeJS.ProcessEnv): LocalSettingsResult {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '(environment)');
      return `${name}: ${issue.message} (got: ${JSON.stringify(env[name] ?? '')})`;
    });
    return { ok: false, problems };
  }
  const v = parsed.data;
  const home = v.HOME || v.USERPROFILE;
  const kubeconfigFiles = v.KUBECONFIG ? v.KUBECONFIG.split(delimiter).filter(Boolean) : home ? [join(home, '.kube', 'config')] : [];
  const settings: LocalSettings = {
    ...(v.KUBECONTROL_LOCAL_CONTEXT !== undefined ? { context: v.KUBECONTROL_LOCAL_CONTEXT } : {}),
    ...(v.KUBECONTROL_LOCAL_REGISTRY !== undefined ? { registryPrefix: v.KUBECONTROL_LOCAL_REGISTRY.replace(/\/+$/, '') } : {}),
    ...(v.KUBECONTROL_LOCAL_BUILD_COMMAND !== undefined ? { buildCommand: v.KUBECONTROL_LOCAL_BUILD_COMMAND.split(/\s+/).filter(Boolean) } : {}),
    kubeconfigFiles,
  };
  return { ok: true, settings };
}
