import { ProtocolClient } from '../child-protocol/client.js';
import { OwnerClient } from '../child-protocol/owner-client.js';
import { RemoteReader } from '../child-protocol/reader.js';
import { RemoteError } from '../errors.js';
import { IntruderClient } from './intruder/intruder-client.js';

/** The files of one run, which every child is pointed at. */
export interface RunFiles {
  readonly dbPath: string;
  readonly dir: string;
}

/**
 * The long-lived children of one stress call: the owner, the reader processes and the intruder.
 * Each serves every run (a run opens new files in them): starting processes per run would cost
 * more than the work under test. A child that died (a fault, a hang it was killed for) is
 * replaced before the next run. The owners' stderr of the current run is kept for its artifact.
 */
export class ChildPool {
  owner: OwnerClient | undefined;
  private readonly readerChildren: (ProtocolClient | undefined)[];
  intruder: IntruderClient | undefined;
  private runStderr = '';

  constructor(
    private readonly strategy: string,
    readers: number,
    private readonly withIntruder: boolean,
  ) {
    this.readerChildren = Array.from({ length: readers }, () => undefined);
  }

  get readerCount(): number {
    return this.readerChildren.length;
  }

  /** Starts whatever is missing or dead; a new run's stderr record starts here. */
  async ready(): Promise<OwnerClient> {
    this.runStderr = '';
    // Started side by side: each child spends its start-up loading Node and DuckDB.
    const [owner] = await Promise.all([
      this.owner === undefined || !this.owner.alive ? OwnerClient.start(this.strategy) : this.owner,
      this.withIntruder && (this.intruder === undefined || !this.intruder.alive)
        ? IntruderClient.start(this.strategy).then((intruder) => {
            this.intruder = intruder;
          })
        : undefined,
    ]);
    this.owner = owner;
    return owner;
  }

  /** A reader for `slot` attached to this run's files (a fresh child if the old one died). */
  async reader(slot: number, files: RunFiles): Promise<RemoteReader> {
    let child = this.readerChildren[slot];
    if (child === undefined || !child.alive) {
      child = await ProtocolClient.start('stress-reader', this.strategy);
      this.readerChildren[slot] = child;
    }
    const reader = new RemoteReader(child);
    await reader.attach(files.dbPath, files.dir);
    return reader;
  }

  async killOwner(): Promise<void> {
    await this.owner?.kill();
  }

  /** A new owner child on the run's files (after a kill); the old one's stderr is kept. */
  async restartOwner(files: RunFiles): Promise<OwnerClient> {
    this.runStderr += stderrOf(this.owner);
    this.owner = await OwnerClient.start(this.strategy);
    const opened = await this.owner.request('open', { db: files.dbPath, dir: files.dir });
    if (!opened.ok) throw new RemoteError(opened.error, opened.kind);
    return this.owner;
  }

  async killReader(slot: number): Promise<void> {
    await this.readerChildren[slot]?.kill();
  }

  /** What every child is working on, for a hang report. */
  pendingWork(): string {
    const parts = [
      `owner ${this.owner?.pid ?? '-'}: ${this.owner?.pendingSummary() ?? 'not running'}`,
      ...this.readerChildren.map(
        (c, i) =>
          `reader-${i + 1} ${c?.pid ?? '-'}: ${c?.alive === true ? c.pendingSummary() : 'not running'}`,
      ),
    ];
    return parts.join('; ');
  }

  /** The stderr of every owner of the current run. */
  stderr(): string {
    return this.runStderr + stderrOf(this.owner);
  }

  /** SIGKILLs every child (after a hang: nothing may go on running); the next run starts new ones. */
  async killAll(): Promise<void> {
    await Promise.all([
      this.owner?.kill(),
      this.intruder?.kill(),
      ...this.readerChildren.map((c) => c?.kill()),
    ]);
  }

  async stopAll(): Promise<void> {
    await Promise.all([
      this.owner?.stop().catch(() => undefined),
      this.intruder?.stop().catch(() => undefined),
      ...this.readerChildren.map((c) => c?.stop().catch(() => undefined)),
    ]);
  }
}

/** An owner's stderr under a header naming it, for the artifact's owner-stderr.txt. */
function stderrOf(owner: OwnerClient | undefined): string {
  return owner === undefined
    ? ''
    : `--- owner ${owner.pid} ---\n${owner.stderr}${owner.stderr.endsWith('\n') ? '' : '\n'}`;
}
