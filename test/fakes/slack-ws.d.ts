/** The few types of the `ws` package (a dependency of @kubernetes/client-node) the Socket Mode fake uses. */
declare module 'ws' {
  import type { EventEmitter } from 'node:events';
  import type { Server } from 'node:http';

  export class WebSocket extends EventEmitter {
    send(data: string): void;
    close(): void;
    terminate(): void;
  }
  export class WebSocketServer extends EventEmitter {
    constructor(options: { server?: Server; port?: number; host?: string; path?: string });
    readonly clients: Set<WebSocket>;
    close(cb?: () => void): void;
  }
}
