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
  /** Every deploy in some line. */
  private readonly members = new Set<number>();

  constructor(
    concurrency: number,
    private readonly run: (deployId: number) => Promise<void>,
    private readonly onError: (deployId: number, err: unknown) => void,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  /** Puts a deploy at the end of its app's line (once) without starting it; `added` is false when it was already there. */
  join(app: string, deployId: number): { position: QueuePosition; added: boolean } {
    let line = this.lines.get(app);
    if (!line) this.lines.set(app, (line = []));
    let added = false;
    if (!this.members.has(deployId)) {
      line.push(deployId);
      this.members.add(deployId);
      added = true;
    }
    return { position: this.position(app, deployId)!, added };
  }

  /** Puts a deploy at the end of its app's line (unless it joined already); starts it when it is at the head. */
  enqueue(app: string, deployId: number): QueuePosition {
    const { position } = this.join(app, deployId);
    this.startIfFirst(app, deployId);
    return position;
  }

  /** Starts a deploy that has joined its line if it is at the head (otherwise the one before it starts it when it ends). */
  startIfFirst(app: string, deployId: number): void {
    if (this.lines.get(app)?.[0] === deployId) this.schedule(deployId);
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
    this.members.delete(deployId);
    if (!line.length) this.lines.delete(app);
    const next = line[0];
    if (wasHead && next !== undefined) {
      this.schedule(next);
      return next;
    }
    return undefined;
  }

  position(app: string, deployId: number): QueuePosition | undefined {
    if (!this.members.has(deployId)) return undefined;
    const line = this.lines.get(app) ?? [];
    // The newest is usually last: look from the end.
    const index = line.lastIndexOf(deployId);
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
