/**
 * The Slack listeners: `/kubeapp` and the approval buttons. Each one hands
 * the input to the command core, which parses, authorises and records it
 * (one synchronous SQLite write), then acks with the answer. Nothing slow
 * happens before the ack: if the core has to wait for something (a user group
 * not in the cache, a dry run's cloud lookups), the ack says "working on it"
 * and the answer follows through the response_url. Only once the answer is
 * sent does the result's continuation run (a deploy joins the deployer's line).
 */
import type { App, BlockAction, ButtonAction, RespondArguments, RespondFn, SlashCommand } from '@slack/bolt';
import type { Logger } from 'pino';
import { runAfterAck, type CommandCore } from '../commands/core.js';
import { nearest, tokenize, VERB_SPECS } from '../commands/grammar.js';
import type { CommandResult } from '../commands/results.js';
import type { KubeApp } from '../kubeapps/index.js';
import { ACTION_APPROVE, ACTION_REJECT, IDEMPOTENCY_PREFIX, SLASH_COMMAND } from './constants.js';
import type { SlackUsers } from './identity.js';
import { resultAnswer, type Ephemeral } from './views.js';

export interface ListenerDeps {
  readonly core: CommandCore;
  readonly apps: ReadonlyMap<string, KubeApp>;
  readonly users: SlackUsers;
  readonly logger: Logger;
}

/**
 * Verbs whose first word must be an app, from the grammar. Not those ending in
 * free text (`lock APP reason`): any first word of the reason could be the
 * app, so there is no telling whether the app was left out.
 */
const APP_FIRST_VERBS: ReadonlySet<string> = new Set(
  VERB_SPECS.filter((s) => s.args[0]?.kind === 'app' && s.args[0].required && !s.args.some((a) => a.variadic)).map((s) => s.name),
);
/** Options followed by a value, which is not a positional. */
const VALUE_FLAGS: ReadonlySet<string> = new Set(VERB_SPECS.flatMap((s) => s.options.filter((o) => o.value).map((o) => o.flag)));

/**
 * Fills in the channel's app when the command leaves it out:
 * `/kubeapp deploy v124` in #search-team is `deploy search-svc v124`.
 * Only when exactly one KubeApp names the channel, and only when the word
 * in the app's place cannot be a (mistyped) app name.
 */
export function withChannelApp(text: string, channel: { id?: string; name?: string }, apps: ReadonlyMap<string, KubeApp>): { text: string; defaultApp?: string } {
  const words = tokenize(text);
  const verb = words[0]?.toLowerCase();
  if (!verb || !APP_FIRST_VERBS.has(verb)) return { text };
  const names = [...apps.keys()];
  const owners = [...apps.values()].filter((a) => {
    const c = a.channel.replace(/^#/, '').toLowerCase();
    return (channel.id && c === channel.id.toLowerCase()) || (channel.name && c === channel.name.replace(/^#/, '').toLowerCase());
  });
  if (owners.length !== 1) return { text };
  const app = owners[0]!.name;
  const positionals: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith('--')) {
      if (VALUE_FLAGS.has(w)) i++;
      continue;
    }
    positionals.push(w);
  }
  const looksLikeApp = (w: string): boolean => apps.has(w.toLowerCase()) || nearest(w, names) !== undefined;
  const needsApp = verb === 'deploy' ? positionals.length === 1 && !looksLikeApp(positionals[0]!) : positionals.length === 0;
  if (!needsApp) return { text };
  return { text: [words[0], app, ...words.slice(1)].map((w) => (/\s/.test(w!) ? `"${w}"` : w)).join(' '), defaultApp: app };
}

/** Registers `/kubeapp` and the approval buttons on `app`. */
export function registerListeners(app: App, deps: ListenerDeps): void {
  const { core, apps, users } = deps;
  const log = deps.logger.child({ component: 'slack' });
  // Deliveries whose command is still being worked on (slow path): a retry of one of them is a duplicate too.
  const working = new Set<string>();

  /** Answers `result` now, then runs its continuation even if the answer could not be sent: the command is accepted and recorded. */
  const answerThenContinue = async (result: CommandResult, answer: () => Promise<unknown>): Promise<void> => {
    try {
      await answer();
    } finally {
      runAfterAck(result);
    }
  };

  const answerLater = async (respond: RespondFn, pending: Promise<CommandResult>, render: (r: CommandResult) => Ephemeral): Promise<void> => {
    try {
      const result = await pending;
      await answerThenContinue(result, () => respond({ ...render(result), replace_original: false } as RespondArguments));
    } catch (err) {
      log.error({ err }, 'command failed after the ack');
      await respond({ response_type: 'ephemeral', text: '❌ Something went wrong on our side; the server log has the details.' }).catch(() => undefined);
    }
  };

  app.command(SLASH_COMMAND, async ({ command, ack, respond }) => {
    const cmd: SlashCommand = command;
    const key = cmd.trigger_id ? `${IDEMPOTENCY_PREFIX}:command:${cmd.trigger_id}` : undefined;
    if (key && working.has(key)) {
      await ack({ response_type: 'ephemeral', text: '↩ Already received; still working on it.' });
      return;
    }
    const { text, defaultApp } = withChannelApp(cmd.text ?? '', { id: cmd.channel_id, name: cmd.channel_name }, apps);
    // The id is checked and recorded; the name is only shown (cached display name, else Slack's user_name).
    const actor = { id: cmd.user_id, name: users.peek(cmd.user_id) ?? cmd.user_name };
    // The core answers synchronously (authorisation reads warm caches); only a dry run's answer comes later.
    const result = core.execute({ actor, surface: 'slack', input: text, idempotencyKey: key });
    const render = (r: CommandResult): Ephemeral => {
      const target = r.kind === 'deploy_queued' ? (r.deploy.threadChannel ?? apps.get(r.deploy.app)?.channel) : undefined;
      const appChannel = target && target.replace(/^#/, '') !== cmd.channel_name && target !== cmd.channel_id ? target : undefined;
      return resultAnswer(r, { defaultApp, appChannel: appChannel ?? (target ? 'this channel' : undefined) });
    };
    if (!(result instanceof Promise)) {
      await answerThenContinue(result, () => ack(render(result)));
    } else {
      if (key) working.add(key);
      await ack({ response_type: 'ephemeral', text: `⟳ Working on \`${text.slice(0, 200)}\`…` });
      await answerLater(respond, result, render).finally(() => key && working.delete(key));
    }
    // After the ack: learn the person's display name for next time.
    if (!users.peek(cmd.user_id)) void users.resolve(cmd.user_id);
  });

  const decide = (verb: 'approve' | 'reject') =>
    async ({ ack, body, action, respond }: { ack: () => Promise<void>; body: BlockAction; action: ButtonAction; respond: RespondFn }): Promise<void> => {
      const id = action.value ?? '';
      if (!/^\d{1,12}$/.test(id)) {
        await ack();
        await respond({ response_type: 'ephemeral', replace_original: false, text: `⚠️ This button does not name a deploy; use \`${SLASH_COMMAND} ${verb} ID\`.` });
        return;
      }
      const delivery = body.trigger_id ?? action.action_ts;
      const key = `${IDEMPOTENCY_PREFIX}:action:${delivery}`;
      if (working.has(key)) {
        await ack();
        return;
      }
      const actor = { id: body.user.id, name: users.peek(body.user.id) ?? body.user.name ?? body.user.username };
      const result = core.execute({ actor, surface: 'slack', input: [verb, id], idempotencyKey: key });
      await ack();
      const render = (r: CommandResult): Ephemeral =>
        r.kind === 'duplicate' ? { response_type: 'ephemeral', text: '↩ Already received that click; nothing changed.' } : resultAnswer(r);
      if (!(result instanceof Promise)) {
        await answerThenContinue(result, () => respond({ ...render(result), replace_original: false } as RespondArguments));
      } else {
        working.add(key);
        await answerLater(respond, result, render).finally(() => working.delete(key));
      }
      if (!users.peek(body.user.id)) void users.resolve(body.user.id);
    };

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_APPROVE }, async (args) => decide('approve')(args));
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_REJECT }, async (args) => decide('reject')(args));
}
