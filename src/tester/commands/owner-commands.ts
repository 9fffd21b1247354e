import type { AsyncCommand } from 'fast-check';
import type { PlannedWrite } from '../clients/owner-actor.js';
import { type FileSpec, renderFile } from '../content.js';
import { FILE_PATHS, type StressModel } from '../model.js';
import { makeToken } from '../tokens.js';
import type { StressWorld } from '../world.js';

type OwnerCommand = AsyncCommand<StressModel, StressWorld>;

/** One file of a generated write: which slot, and what goes in it. */
export interface FileWrite {
  readonly slot: number;
  readonly spec: FileSpec;
  readonly suffix: string;
}

function pathOf(slot: number): string {
  return FILE_PATHS[slot % FILE_PATHS.length] as string;
}

/** One write per slot: a later entry for the same slot replaces the earlier within the write. */
function distinctSlots(files: readonly FileWrite[]): FileWrite[] {
  const bySlot = new Map<number, FileWrite>();
  for (const f of files) bySlot.set(f.slot % FILE_PATHS.length, f);
  return [...bySlot.values()];
}

/** The files and tokens of the next write; every token is unique in the run. */
export function planWrite(
  model: Readonly<Pick<StressModel, 'written'>>,
  files: readonly FileWrite[],
): PlannedWrite {
  const distinct = distinctSlots(files);
  const tokens = distinct.map((f, i) => makeToken(model.written.length + i, f.suffix));
  return {
    files: distinct.map((f, i) => ({
      path: pathOf(f.slot),
      content: renderFile(pathOf(f.slot), f.spec, tokens[i] as string),
    })),
    tokens,
  };
}

/** What the model knows once a write is acknowledged (or may have landed). */
export function applyWrite(model: StressModel, write: PlannedWrite): void {
  write.files.forEach((file, i) => {
    const slot = FILE_PATHS.indexOf(file.path as (typeof FILE_PATHS)[number]);
    model.files[slot] = write.tokens[i];
  });
  model.written.push(...write.tokens);
}

function describeFiles(files: readonly FileWrite[]): string {
  return distinctSlots(files)
    .map((f) => `${pathOf(f.slot)}:${f.spec.definitions.length}defs`)
    .join(' ');
}

/** owner.write(files): replaces one or more files in one transaction, each with a fresh token. */
export class OwnerWrite implements OwnerCommand {
  constructor(readonly files: readonly FileWrite[]) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const write = planWrite(model, this.files);
    world.requireOk(await world.owner.write(write));
    applyWrite(model, write);
  }

  toString(): string {
    return `owner.write(${describeFiles(this.files)})`;
  }

  /** Simpler writes: one file fewer; a file with one definition fewer. */
  simplify(): OwnerCommand[][] {
    const files = distinctSlots(this.files);
    const fewerFiles =
      files.length > 1 ? files.map((_, i) => [new OwnerWrite(files.filter((__, j) => j !== i))]) : [];
    const fewerDefinitions = files.flatMap((f, i) =>
      f.spec.definitions.length > 1
        ? [
            [
              new OwnerWrite(
                files.map((g, j) =>
                  j === i ? { ...g, spec: { ...g.spec, definitions: g.spec.definitions.slice(0, -1) } } : g,
                ),
              ),
            ],
          ]
        : [],
    );
    return [...fewerFiles, ...fewerDefinitions];
  }
}

/** owner.delete(file) */
export class OwnerDelete implements OwnerCommand {
  constructor(readonly slot: number) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    world.requireOk(await world.owner.delete([pathOf(this.slot)]));
    model.files[this.slot % FILE_PATHS.length] = undefined;
  }

  toString(): string {
    return `owner.delete(${pathOf(this.slot)})`;
  }
}

/** owner.checkpoint() */
export class OwnerCheckpoint implements OwnerCommand {
  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(_model: StressModel, world: StressWorld): Promise<void> {
    world.requireOk(await world.owner.simple('checkpoint'));
  }

  toString(): string {
    return 'owner.checkpoint()';
  }
}

/** owner.release(): closes everything; the file lock is free afterwards. */
export class OwnerRelease implements OwnerCommand {
  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    world.requireOk(await world.owner.simple('release'));
    model.ownerHolds = false;
  }

  toString(): string {
    return 'owner.release()';
  }
}

/** owner.acquire(): re-opens the index read-write after a release. */
export class OwnerAcquire implements OwnerCommand {
  check(model: Readonly<StressModel>): boolean {
    return model.ownerAlive && !model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    world.requireOk(await world.owner.simple('acquire'));
    model.ownerHolds = true;
  }

  toString(): string {
    return 'owner.acquire()';
  }
}
