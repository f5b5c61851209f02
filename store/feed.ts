/**
 * Announces committed events. The store hands every appended event to the
 * feed; the feed holds it until the outermost transaction commits, then tells
 * every listener, in order. Events of a transaction that rolled back are never
 * announced. A listener that throws is reported to `onError` and does not stop
 * the others or the writer.
 */
import type { EventRecord } from './types.js';

export type EventListener = (event: EventRecord) => void;

export class EventFeed {
  private readonly listeners = new Set<EventListener>();
  /** One buffer per open transaction level (savepoints nest). */
  private readonly frames: EventRecord[][] = [];

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  /** Subscribes; the name mirrors EventEmitter so callers read the same. */
  on(_event: 'appended', listener: EventListener): this {
    this.listeners.add(listener);
    return this;
  }

  off(_event: 'appended', listener: EventListener): this {
    this.listeners.delete(listener);
    return this;
  }

  /** How many listeners are subscribed (tests, leak checks). */
  get size(): number {
    return this.listeners.size;
  }

  /** Called by the events repository after an insert. */
  appended(event: EventRecord): void {
    const frame = this.frames[this.frames.length - 1];
    if (frame) frame.push(event);
    else this.announce([event]);
  }

  /** Runs `fn` as one transaction level: its events are kept if it returns, dropped if it throws. */
  within<T>(fn: () => T): T {
    const frame: EventRecord[] = [];
    this.frames.push(frame);
    let result: T;
    try {
      result = fn();
    } finally {
      this.frames.pop();
    }
    const parent = this.frames[this.frames.length - 1];
    if (parent) parent.push(...frame);
    else this.announce(frame);
    return result;
  }

  private announce(events: readonly EventRecord[]): void {
    for (const event of events) {
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch (err) {
          this.onError(err);
        }
      }
    }
  }
}
