/**
 * Runs the requests of every connection of a server with at most `concurrency` of them at once,
 * taking turns across connections. Without it each request went straight to the handler, whose
 * index reads queue one behind the other: a client with 64 requests pipelined put all 64 ahead of
 * everyone who came after it, and requests that had timed out long ago still ran.
 *
 * The fairness bound, in queue positions: a request that a connection queues while it has nothing
 * else queued starts after at most `concurrency` requests already running plus one request of each
 * other connection with queued work. A flooding connection gets one turn per round like any other.
 */

/** A queued request: `cancel` takes it out if it has not started (true), and is a no-op after (false). */
export interface Ticket {
  cancel(): boolean;
}

interface Job {
  readonly run: () => Promise<void>;
  queued: boolean;
}

export class FairScheduler {
  /** Connections with queued work, in turn order (a Map keeps insertion order). */
  private readonly queues = new Map<object, Job[]>();
  private running = 0;
  private queuedCount = 0;

  constructor(readonly concurrency: number) {
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
    const queue = this.queues.get(owner);
    if (queue === undefined) this.queues.set(owner, [job]);
    else queue.push(job);
    this.queuedCount++;
    this.pump();
    return {
      cancel: () => {
        if (!job.queued) return false;
        job.queued = false;
        this.queuedCount--;
        const jobs = this.queues.get(owner);
        if (jobs !== undefined) {
          const at = jobs.indexOf(job);
          if (at >= 0) jobs.splice(at, 1);
          if (jobs.length === 0) this.queues.delete(owner);
        }
        return true;
      },
    };
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const next = this.queues.entries().next();
      if (next.done === true) return;
      const [owner, jobs] = next.value;
      const job = jobs.shift() as Job;
      // To the back of the line: every other connection with work goes before this one's next.
      this.queues.delete(owner);
      if (jobs.length > 0) this.queues.set(owner, jobs);
      job.queued = false;
      this.queuedCount--;
      this.running++;
      void job.run().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}
