/**
 * The deploy queue: a p-queue caps how many deploys run at once across all
 * apps, and one line per app keeps deploys of the same app strictly one at a
 * time, in the order they were accepted. A deploy waiting for approval keeps
 * its place at the head of its app's line but gives its global slot back.
 */
import PQueue from 'p-queue';

/** Where a deploy stands in line. */
export interface QueuePosition {
  /** 0 when it is its app's current deploy; n when n deploys of the app are ahead. */
  readonly position: number;
  /** The deploys of the same app ahead of it, oldest first: the first ten at most (the store's `ahead` gives as many). */
  readonly ahead: readonly number[];
}

export class DeployQueue {
  private readonly queue: PQueue;
  private readonly lines = new Map<string, number[]>();
  private readonly scheduled = new Set<number>();

  constructor(
    concurrency: number,
    private readonly run: (deployId: number) => Promise<void>,
    private readonly onError: (deployId: number, err: unknown) => void,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  /** Puts a deploy at the end of its app's line; starts it when it is at the head. */
  enqueue(app: string, deployId: number): QueuePosition {
    const line = this.lines.get(app) ?? [];
    if (!line.includes(deployId)) line.push(deployId);
    this.lines.set(app, line);
    if (line[0] === deployId) this.schedule(deployId);
    return this.position(app, deployId)!;
  }

  /** Runs the deploy's next phase when a global slot is free (no-op if already waiting for one). */
  schedule(deployId: number, priority = 0): void {
    if (this.scheduled.has(deployId)) return;
    this.scheduled.add(deployId);
    void this.queue
      .add(
        async () => {
          this.scheduled.delete(deployId);
          await this.run(deployId);
        },
        { priority },
      )
      .catch((err: unknown) => {
        this.scheduled.delete(deployId);
        this.onError(deployId, err);
      });
  }

  /** Takes a finished (or cancelled) deploy out of its line; returns the next deploy of the app, now at the head. */
  release(app: string, deployId: number): number | undefined {
    const line = this.lines.get(app);
    if (!line) return undefined;
    const wasHead = line[0] === deployId;
    const index = line.indexOf(deployId);
    if (index >= 0) line.splice(index, 1);
    if (!line.length) this.lines.delete(app);
    const next = line[0];
    if (wasHead && next !== undefined) {
      this.schedule(next);
      return next;
    }
    return undefined;
  }

  position(app: string, deployId: number): QueuePosition | undefined {
    const line = this.lines.get(app) ?? [];
    const index = line.indexOf(deployId);
    // Not the whole line: its ids go into the deploy's "queued behind" event, whose size would grow with the line.
    return index < 0 ? undefined : { position: index, ahead: line.slice(0, Math.min(index, 10)) };
  }

  /** Phases running now, and waiting for a global slot. */
  get load(): { running: number; waiting: number } {
    return { running: this.queue.pending, waiting: this.queue.size };
  }

  /** Resolves when nothing is running or waiting for a slot. */
  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }

  /** Stops starting new phases (running ones finish or abort on their own). */
  pause(): void {
    this.queue.pause();
    this.queue.clear();
  }
}
