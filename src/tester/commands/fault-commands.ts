import type { AsyncCommand } from 'fast-check';
import { FILE_PATHS, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { plannedWrite } from './owner-commands.js';

/**
 * The nemesis: faults real machines inflict, generated like any other command so fast-check
 * shrinks them too. A SIGKILLed owner leaves behind whatever it had on disk (WAL, sockets,
 * snapshot temp files), exactly the stale state a restart must cope with.
 */
type FaultCommand = AsyncCommand<StressModel, StressWorld>;

/** nemesis.killOwner(): SIGKILL between steps. */
export class KillOwner implements FaultCommand {
  check(model: Readonly<StressModel>): boolean {
    return model.ownerAlive;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    await world.killOwner();
    model.ownerAlive = false;
    model.ownerHolds = false;
  }

  toString(): string {
    return 'nemesis.killOwner()';
  }
}

/** nemesis.killDuringWrite(file, suffix, delayMs): SIGKILL the owner while it writes. */
export class KillDuringWrite implements FaultCommand {
  constructor(
    readonly file: number,
    readonly suffix: string,
    readonly delayMs: number,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const write = plannedWrite(model, this.file, this.suffix, 0);
    await world.killDuringWrite(write.path, write.token, write.content, this.delayMs);
    // The token may or may not have landed: searches may ask for it, the checker accepts both.
    model.written.push(write.token);
    model.ownerAlive = false;
    model.ownerHolds = false;
  }

  toString(): string {
    return `nemesis.killDuringWrite(${FILE_PATHS[this.file]}, ${JSON.stringify(this.suffix)}, ${this.delayMs} ms)`;
  }
}

/** owner.restart(): a new owner process opens the same index after a kill. */
export class RestartOwner implements FaultCommand {
  check(model: Readonly<StressModel>): boolean {
    return !model.ownerAlive;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    await world.restartOwner();
    model.ownerAlive = true;
    model.ownerHolds = true;
  }

  toString(): string {
    return 'owner.restart()';
  }
}

/** nemesis.killReader(): SIGKILL the reader process, open or not. */
export class KillReader implements FaultCommand {
  check(): boolean {
    return true;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    await world.killReader();
    model.readerOpen = false;
  }

  toString(): string {
    return 'nemesis.killReader()';
  }
}
