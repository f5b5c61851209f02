/**
 * Signed requests as Slack sends them: slash commands (form body) and block
 * actions (`payload=` JSON), with `x-slack-signature: v0=HMAC-SHA256(secret,
 * "v0:" + timestamp + ":" + body)` and `x-slack-request-timestamp`.
 */
import { createHmac, randomUUID } from 'node:crypto';

export interface SendOptions {
  /** Seconds since the epoch. @default now */
  readonly timestamp?: number;
  /** Replaces the computed signature (bad-signature tests). */
  readonly signature?: string;
  /** Sets X-Slack-Retry-Num (a redelivery). */
  readonly retryNum?: number;
}

export interface SlackReply {
  readonly status: number;
  readonly text: string;
  /** The body as JSON, when it is JSON. */
  readonly json: Record<string, unknown> | undefined;
}

export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** POSTs a form body to `url`, signed with `secret`. */
export async function postSigned(url: string, secret: string, form: Record<string, string>, options: SendOptions = {}): Promise<SlackReply> {
  const body = new URLSearchParams(form).toString();
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': options.signature ?? signature(secret, timestamp, body),
  };
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

export interface SlashCommandFields {
  readonly text: string;
  readonly userId: string;
  readonly userName?: string;
  readonly channelId?: string;
  readonly channelName?: string;
  readonly responseUrl: string;
  /** @default a fresh id per command (Slack's trigger_id is unique per invocation) */
  readonly triggerId?: string;
}

/** The form fields of a `/kubeapp` invocation. */
export function slashCommand(f: SlashCommandFields): Record<string, string> {
  return {
    token: 'legacy-verification-token-unused',
    team_id: 'T0TEST',
    team_domain: 'kubecontrol-test',
    channel_id: f.channelId ?? 'C0SEARCH',
    channel_name: f.channelName ?? 'search-team',
    user_id: f.userId,
    user_name: f.userName ?? f.userId.toLowerCase(),
    command: '/kubeapp',
    text: f.text,
    api_app_id: 'A0KUBECTL',
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: f.triggerId ?? `trigger.${randomUUID()}`,
  };
}

export interface BlockActionFields {
  readonly actionId: string;
  readonly value: string;
  readonly userId: string;
  readonly userName?: string;
  readonly channelId: string;
  readonly messageTs: string;
  readonly responseUrl: string;
  readonly triggerId?: string;
}

/** The form body (`payload=`) of a button click. */
export function blockAction(f: BlockActionFields): Record<string, string> {
  const now = Date.now() / 1000;
  const payload = {
    type: 'block_actions',
    user: { id: f.userId, username: f.userName ?? f.userId.toLowerCase(), name: f.userName ?? f.userId.toLowerCase(), team_id: 'T0TEST' },
    api_app_id: 'A0KUBECTL',
    token: 'legacy-verification-token-unused',
    container: { type: 'message', message_ts: f.messageTs, channel_id: f.channelId, is_ephemeral: false },
    trigger_id: f.triggerId ?? `trigger.${randomUUID()}`,
    team: { id: 'T0TEST', domain: 'kubecontrol-test' },
    channel: { id: f.channelId, name: 'search-team' },
    message: { type: 'message', ts: f.messageTs, text: 'approval' },
    response_url: f.responseUrl,
    actions: [
      {
        action_id: f.actionId,
        block_id: 'kubecontrol.approval',
        text: { type: 'plain_text', text: 'button' },
        value: f.value,
        type: 'button',
        action_ts: now.toFixed(6),
      },
    ],
  };
  return { payload: JSON.stringify(payload) };
}
