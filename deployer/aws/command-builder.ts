/** Builds an app's image with a command on the kubecontrol host (docker buildx, bazel run, ...). */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { InfraError } from '../errors.js';
import type { Builder, ImageRef, PlacementOverrides, Registry, StepContext } from '../ports.js';
import { abortError } from './clients.js';
import { missingSetting, placement } from './placement.js';
import type { AwsSettings } from './settings.js';

/** Environment variable names whose values never reach progress lines. */
export const SECRET_ENV_NAME = /TOKEN|SECRET|PASSWORD|KEY/i;

/** What a CommandBuilder needs. */
export interface CommandBuilderOptions {
  readonly registry: Registry;
  /** The account's build command, for apps that name none. */
  readonly settings: AwsSettings;
  /** Environment of the build command (PATH, registry credentials): the composition root passes it, nothing reads process.env here. */
  readonly env: NodeJS.ProcessEnv;
  /** Working directory of the build command. @default process.cwd() */
  readonly cwd?: string;
  /** How long a cancelled build gets after SIGTERM before SIGKILL, ms. @default 10000 */
  readonly killGraceMs?: number;
}

/** Returns a function that replaces every secret env value in a line with `***`. */
export function secretMasker(env: NodeJS.ProcessEnv): (line: string) => string {
  const secrets = Object.entries(env)
    .filter(([name, value]) => SECRET_ENV_NAME.test(name) && typeof value === 'string' && value.length >= 4)
    .map(([, value]) => value as string)
    // Longest first, so a secret that contains another is masked whole.
    .sort((a, b) => b.length - a.length);
  return (line) => secrets.reduce((l, s) => l.split(s).join('***'), line);
}

/**
 * Runs the app's build command (its own, else KUBECONTROL_BUILD_COMMAND) as an argument vector (no shell) with `{version}`
 * and `{image}` substituted; streams its output lines to progress with secret
 * values masked; kills it when the step is cancelled.
 */
export class CommandBuilder implements Builder {
  constructor(private readonly opts: CommandBuilderOptions) {}

  async build({ ctx, image: ref, placement: own }: { ctx: StepContext; image: ImageRef; placement?: PlacementOverrides }): Promise<void> {
    const { app, signal } = ctx;
    const tag = ref.tag;
    const [file, ...rest] = placement(own, this.opts.settings).buildCommand;
    if (!file) throw missingSetting(app, 'buildCommand', 'KUBECONTROL_BUILD_COMMAND', 'build command');
    const image = this.opts.registry.imageUri({ image: ref, placement: own });
    const subst = (a: string): string => a.split('{version}').join(tag).split('{image}').join(image);
    const argv = rest.map(subst);
    const env = { ...this.opts.env, IMAGE_TAG: tag, IMAGE: image };
    const mask = secretMasker(env);
    if (signal.aborted) throw abortError(`build command ${file}`, signal);

    ctx.progress(mask(`running ${[file, ...argv].join(' ')}`), { builder: 'command' });
    const child = spawn(subst(file), argv, { shell: false, env, cwd: this.opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onLine = (stream: 'stdout' | 'stderr') => (line: string) => {
      const masked = mask(line);
      tail.push(masked);
      if (tail.length > 10) tail.shift();
      if (masked.trim()) ctx.progress(masked, { stream });
    };
    createInterface({ input: child.stdout }).on('line', onLine('stdout'));
    createInterface({ input: child.stderr }).on('line', onLine('stderr'));

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), this.opts.killGraceMs ?? 10_000);
      killTimer.unref();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const { code, sig } = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
        child.once('error', reject);
        // 'close' (not 'exit'): every output line has been read by then.
        child.once('close', (c, s) => resolve({ code: c, sig: s }));
      }).catch((err: unknown) => {
        const e = err as NodeJS.ErrnoException;
        throw new InfraError('misconfigured', `build command ${file} could not start: ${e.code ?? ''} ${e.message}`.trim(), { cause: err });
      });
      if (signal.aborted) throw abortError(`build command ${file}`, signal);
      if (code !== 0) {
        const how = sig ? `was killed by ${sig}` : `exited with code ${code}`;
        throw new InfraError('provider_failed', `build command ${file} ${how}${tail.length ? `; last output:\n${tail.join('\n')}` : ''}`);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
    }
  }
}
