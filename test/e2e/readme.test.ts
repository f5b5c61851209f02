/**
 * The README's examples, run verbatim and in the order written, on a fresh database: every
 * ```sh block after a `<!-- readme-walk … -->` line. Each line is one command as a user types
 * it (`npx kubecontrol …` runs this checkout's CLI as a separate process); a `# … (exit N)`
 * comment says the exit code the README promises, otherwise 0. A command that reaches "Waiting
 * for approval" keeps running while the next lines run, as in a second terminal, and must end
 * with its code once they have. The server is the real one (the sandbox at 1/1000 of real time
 * instead of 1/200, which changes no answer), started once for the whole README as `npm start`
 * would be; `~` is a fresh home folder.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from '../helpers/harness.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

interface Step {
  readonly line: string;
  readonly command: string;
  readonly exit: number;
}

/** The walked blocks, in order: each a list of commands with the exit code the README promises. */
function walkedBlocks(markdown: string): Step[][] {
  const blocks: Step[][] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('<!-- readme-walk')) continue;
    const fence = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    const close = lines.findIndex((l, j) => j > fence && l.startsWith('```'));
    const steps: Step[] = [];
    for (const line of lines.slice(fence + 1, close)) {
      if (line.trimStart().startsWith('#')) continue; // a comment line ("# terminal 2: …")
      // A trailing comment starts at " # " outside quotes (the README's commands quote no '#').
      const [command, comment = ''] = line.split(/\s+#\s(.*)$/, 2);
      if (!command!.trim()) continue;
      steps.push({ line, command: command!.trim(), exit: Number(/\(exit (\d)\)/.exec(comment)?.[1] ?? 0) });
    }
    blocks.push(steps);
  }
  return blocks;
}

interface Running {
  readonly step: Step;
  output: string;
  readonly done: Promise<number>;
}

let h: Harness;
let home: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  h = await startHarness();
  home = realpathSync(mkdtempSync(join(tmpdir(), 'kubecontrol-readme-home-')));
});
afterAll(async () => {
  // A failed expectation leaves the commands after it running: stop them with the server.
  for (const child of children) child.kill('SIGKILL');
  await h?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Starts one README line the way a shell would, with `npx kubecontrol` being this checkout's CLI. */
function start(step: Step): Running {
  if (!step.command.startsWith('npx kubecontrol ')) throw new Error(`the README walk only runs \`npx kubecontrol …\` lines; cannot run: ${step.line}`);
  const shell = `node ${JSON.stringify(join(ROOT, 'cli', 'bin.js'))} ${step.command.slice('npx kubecontrol '.length)}`;
  const child = spawn('bash', ['-c', shell], {
    cwd: ROOT,
    env: { ...process.env, HOME: home, NO_COLOR: '1', KUBECONTROL_URL: h.url, KUBECONTROL_KUBEAPPS_DIR: '', npm_config_cache: join(home, '.npm') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('close', () => children.delete(child));
  const running: Running = {
    step,
    output: '',
    done: new Promise((resolveExit) => child.once('close', (code) => resolveExit(code ?? -1))),
  };
  child.stdout.on('data', (c: Buffer) => (running.output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (running.output += c.toString()));
  return running;
}

/** Resolves when the command has ended, or is waiting for someone else (an approval) to go on. */
function settled(r: Running): Promise<void> {
  return new Promise((resolveSettled) => {
    void r.done.then(() => resolveSettled());
    const timer = setInterval(() => {
      if (/Waiting for approval/.test(r.output)) {
        clearInterval(timer);
        resolveSettled();
      }
    }, 50);
    void r.done.then(() => clearInterval(timer));
  });
}

describe('README', () => {
  const blocks = walkedBlocks(README);

  it('has the walked examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks.flat().length).toBeGreaterThanOrEqual(12);
  });

  it('runs every walked command verbatim, in order, with the exit code it promises', async () => {
    for (const steps of blocks) {
      const running: Running[] = [];
      for (const step of steps) {
        const r = start(step);
        running.push(r);
        await settled(r);
      }
      for (const r of running) {
        const code = await r.done;
        expect({ line: r.step.line, exit: code, output: code === r.step.exit ? '' : r.output }).toEqual({ line: r.step.line, exit: r.step.exit, output: '' });
      }
    }
    // What the walk did is in the store, as the README says: the first deploy succeeded, the failed one said why.
    expect(h.k.store.deploys.get(1)?.state).toBe('succeeded');
    const failed = h.k.store.deploys.get(4)!;
    expect(failed.state).toBe('failed');
    expect(h.k.store.events.after(4, 0).map((e) => e.message).join('\n')).toMatch(/provision/);
  }, 120_000);
});
