import type { AsyncCommand } from 'fast-check';
import { FILE_PATHS, type StressModel } from '../model.js';
import { fileContent, makeToken } from '../tokens.js';
import type { StressWorld } from '../world.js';

type OwnerCommand = AsyncCommand<StressModel, StressWorld>;

/** owner.write(file): replaces one file with content holding a fresh token. */
export class OwnerWrite implements OwnerCommand {
  constructor(
    readonly file: number,
    readonly suffix: string,
    readonly filler: number,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const { path, token, content } = plannedWrite(model, this.file, this.suffix, this.filler);
    await world.ownerStep('write', { path, token }, { files: [{ path, content }] });
    applyWrite(model, this.file, token);
  }

  toString(): string {
    return `owner.write(${FILE_PATHS[this.file]}, ${JSON.stringify(this.suffix)}, ${this.filler})`;
  }
}

/** The path, token and content of the next write to slot `file`; the token is unique in the run. */
export function plannedWrite(model: Readonly<StressModel>, file: number, suffix: string, filler: number) {
  const path = FILE_PATHS[file] as string;
  const token = makeToken(model.written.length, suffix);
  return { path, token, content: fileContent(path, token, filler) };
}

export function applyWrite(model: StressModel, file: number, token: string): void {
  model.files[file] = token;
  model.written.push(token);
}

/** owner.delete(file) */
export class OwnerDelete implements OwnerCommand {
  constructor(readonly file: number) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const path = FILE_PATHS[this.file] as string;
    await world.ownerStep('delete', { path }, { paths: [path] });
    model.files[this.file] = undefined;
  }

  toString(): string {
    return `owner.delete(${FILE_PATHS[this.file]})`;
  }
}

/** owner.checkpoint() */
export class OwnerCheckpoint implements OwnerCommand {
  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(_model: StressModel, world: StressWorld): Promise<void> {
    await world.ownerStep('checkpoint', {});
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
    await world.ownerStep('release', {});
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
    await world.ownerStep('acquire', {});
    model.ownerHolds = true;
  }

  toString(): string {
    return 'owner.acquire()';
  }
}
