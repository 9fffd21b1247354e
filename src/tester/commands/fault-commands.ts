import type { AsyncCommand } from 'fast-check';
import { readerSlot, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { applyWrite, type FileWrite, planWrite } from './owner-commands.js';

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
    await world.nemesis.killOwner(world.owner);
    model.ownerAlive = false;
    model.ownerHolds = false;
  }

  toString(): string {
    return 'nemesis.killOwner()';
  }
}

/** nemesis.killDuringWrite(files, delayMs): SIGKILL the owner while it writes. */
export class KillDuringWrite implements FaultCommand {
  constructor(
    readonly files: readonly FileWrite[],
    readonly delayMs: number,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const write = planWrite(model, this.files);
    world.requireOkOrKilled(await world.nemesis.killDuringWrite(world.owner, write, this.delayMs));
    // The tokens may or may not have landed: searches may ask for them, the checker accepts both.
    applyWrite(model, write);
    model.ownerAlive = false;
    model.ownerHolds = false;
  }

  toString(): string {
    return `nemesis.killDuringWrite(${this.files.length} files, ${this.delayMs} ms)`;
  }
}

/** owner.restart(): a new owner process opens the same index after a kill. */
export class RestartOwner implements FaultCommand {
  check(model: Readonly<StressModel>): boolean {
    return !model.ownerAlive;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    world.requireOk(await world.nemesis.restartOwner(world.owner));
    model.ownerAlive = true;
    model.ownerHolds = true;
  }

  toString(): string {
    return 'owner.restart()';
  }
}

/** nemesis.killReader(N): SIGKILL one reader process, open or not; its next open starts a new one. */
export class KillReader implements FaultCommand {
  constructor(readonly reader: number) {}

  check(): boolean {
    return true;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const slot = readerSlot(model, this.reader);
    await world.nemesis.killReader(world.reader(slot), slot);
    model.readersOpen[slot] = false;
  }

  toString(): string {
    return `nemesis.killReader(reader-${this.reader + 1})`;
  }
}
