/**
 * Slack's Socket Mode end, for the real Bolt SocketModeReceiver: a WebSocket
 * server that `apps.connections.open` (on the FakeSlack) points to. It says
 * `hello`, sends envelopes (slash commands, interactions) and hands back the
 * app's acknowledgement of each one.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { FakeSlack } from './slack-api.js';

export class FakeSocketMode {
  private readonly acks = new Map<string, (payload: Record<string, unknown>) => void>();
  private socket: WebSocket | undefined;
  private readonly connected: Promise<void>;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
  ) {
    this.connected = new Promise((resolve) => {
      wss.on('connection', (ws: WebSocket) => {
        this.socket = ws;
        ws.on('message', (data: Buffer) => {
          const msg = JSON.parse(data.toString()) as { envelope_id?: string; payload?: Record<string, unknown> };
          if (msg.envelope_id) this.acks.get(msg.envelope_id)?.(msg.payload ?? {});
        });
        ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake' }, connection_info: { app_id: 'A0KUBECTL' } }));
        resolve();
      });
    });
  }

  /** Starts the WebSocket server and points `fake`'s apps.connections.open at it. */
  static async start(fake: FakeSlack): Promise<FakeSocketMode> {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    fake.socketUrl = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/link`;
    return new FakeSocketMode(server, wss);
  }

  /** Resolves once the app has connected. */
  ready(): Promise<void> {
    return this.connected;
  }

  /** Sends an envelope and resolves with the app's ack payload. */
  async send(type: 'slash_commands' | 'interactive', payload: Record<string, unknown>, options: { retryAttempt?: number } = {}): Promise<Record<string, unknown>> {
    await this.connected;
    const envelope_id = randomUUID();
    const acked = new Promise<Record<string, unknown>>((resolve) => this.acks.set(envelope_id, resolve));
    this.socket!.send(JSON.stringify({ envelope_id, type, payload, accepts_response_payload: type === 'slash_commands', retry_attempt: options.retryAttempt ?? 0, retry_reason: '' }));
    return acked;
  }

  async close(): Promise<void> {
    // Finish each client's close handshake from our side (a client that is disconnecting otherwise waits
    // 30 s for our close frame): answer with a close frame and wait for the socket to be closed.
    await Promise.all(
      [...this.wss.clients].map((c) => {
        const closed = new Promise((resolve) => c.once('close', resolve));
        c.close(1001, 'fake Slack is stopping');
        return closed;
      }),
    );
    return new Promise((resolve) => {
      this.wss.close(() => this.server.close(() => resolve()));
      this.server.closeAllConnections();
    });
  }
}
