/**
 * Runs the requests of every connection of a server with at most `concurrency` of them at once,
 * sharing the time between connections. Without it each request went straight to the handler,
 * whose index reads queue one behind the other: a client with 64 requests pipelined put all 64
 * ahead of everyone who came after it, and requests that had timed out long ago still ran.
 *
 * Fair in time, not in request count: the next request to start is the first queued one of the
 * connection that has been served least (the sum of its requests' running times). A connection
 * that starts queueing (new, or back from idle) is counted as served as much as the least served
 * connection already waiting, so it gets no credit for its idle time but goes before everyone who
 * has been served more, and among those served as much, the connection with fewer requests queued
 * goes first: a client sending one small search at a time overtakes clients that keep 64 top-1000
 * searches queued.
 *
 * The bound, in queue positions: a request that a connection queues while it has nothing else
 * queued starts after at most `concurrency` requests already running plus one request of each other
 * connection served no more than it (in the worst case, all equal: one of each other connection).
 */

/** A queued request: `cancel` takes it out if it has not started (true), and is a no-op after (false). */
export interface Ticket {
  cancel(): boolean;
}

interface Job {
  readonly run: () => Promise<void>;
  queued: boolean;
}

interface Backlog {
  readonly jobs: Job[];
  /** Running time charged to this connection, in ms, on the scheduler's virtual clock. */
  served: number;
}

export class FairScheduler {
  /** Connections with queued work, in the order they started queueing (the tie break). */
  private readonly backlogs = new Map<object, Backlog>();
  /** Time served and requests running per connection with work running (it may queue more). */
  private readonly runningBy = new Map<object, { served: number; running: number }>();
  private running = 0;
  private queuedCount = 0;
  /** The served time of the last connection picked: where a connection that starts queueing starts. */
  private clock = 0;

  constructor(
    readonly concurrency: number,
    /** The clock running times are measured with (a test's own, to decide who ran longest). */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, not ${concurrency}`);
    }
  }

  /** Requests waiting for their turn, over all connections. */
  get queued(): number {
    return this.queuedCount;
  }

  /** Requests started and not yet settled (a timed-out request still counts until its work returns). */
  get active(): number {
    return this.running;
  }

  /**
   * Queues `run` for connection `owner`. `run` must not reject; it holds its slot until it settles,
   * so work that ignores cancellation still counts against the concurrency.
   */
  enqueue(owner: object, run: () => Promise<void>): Ticket {
    const job: Job = { run, queued: true };
    let backlog = this.backlogs.get(owner);
    if (backlog === undefined) {
      const least = this.leastServed();
      const before = this.runningBy.get(owner)?.served ?? 0;
      backlog = { jobs: [], served: Math.max(before, least ?? this.clock) };
      this.backlogs.set(owner, backlog);
    }
    backlog.jobs.push(job);
    this.queuedCount++;
    this.pump();
    return {
      cancel: () => {
        if (!job.queued) return false;
        job.queued = false;
        this.queuedCount--;
        const current = this.backlogs.get(owner);
        if (current !== undefined) {
          const at = current.jobs.indexOf(job);
          if (at >= 0) current.jobs.splice(at, 1);
          if (current.jobs.length === 0) this.rest(owner, current);
        }
        return true;
      },
    };
  }

  private leastServed(): number | undefined {
    let least: number | undefined;
    for (const backlog of this.backlogs.values()) {
      if (least === undefined || backlog.served < least) least = backlog.served;
    }
    return least;
  }

  /** The connection's queue is empty: its served time is kept only while it has work running. */
  private rest(owner: object, backlog: Backlog): void {
    this.backlogs.delete(owner);
    const runningBy = this.runningBy.get(owner);
    if (runningBy !== undefined) runningBy.served = Math.max(runningBy.served, backlog.served);
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      let owner: object | undefined;
      let backlog: Backlog | undefined;
      for (const [candidate, b] of this.backlogs) {
        // Least served first; among equals the shorter queue (it asked for less), then the earlier.
        if (
          backlog === undefined ||
          b.served < backlog.served ||
          (b.served === backlog.served && b.jobs.length < backlog.jobs.length)
        ) {
          owner = candidate;
          backlog = b;
        }
      }
      if (owner === undefined || backlog === undefined) return;
      const job = backlog.jobs.shift() as Job;
      job.queued = false;
      this.queuedCount--;
      this.running++;
      this.clock = backlog.served;
      const runningBy = this.runningBy.get(owner) ?? { served: backlog.served, running: 0 };
      runningBy.running++;
      this.runningBy.set(owner, runningBy);
      if (backlog.jobs.length === 0) this.rest(owner, backlog);
      const picked = owner;
      const started = this.now();
      void job.run().finally(() => {
        this.running--;
        this.charge(picked, this.now() - started);
        this.pump();
      });
    }
  }

  private charge(owner: object, ms: number): void {
    const backlog = this.backlogs.get(owner);
    if (backlog !== undefined) backlog.served += ms;
    const runningBy = this.runningBy.get(owner);
    if (runningBy === undefined) return;
    runningBy.served += ms;
    runningBy.running--;
    if (runningBy.running === 0) this.runningBy.delete(owner);
  }
}
