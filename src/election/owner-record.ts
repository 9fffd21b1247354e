import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';

/**
 * The owner's side record, `owner.json`: who the owner is and how to reach it, for discovery and
 * `status`. It is NEVER the source of truth: the election lock is. A record can be stale (its writer
 * was SIGKILLed), name a PID that now belongs to an unrelated process, or be garbage; readers check
 * it against the lock holder (`currentOwner`) and candidates ignore it altogether.
 *
 * Only the process that holds the election lock writes or removes it, so writers never race each
 * other: a new owner exists only after the old one's lock is gone.
 */

export const RECORD_VERSION = 1;

export interface OwnerRecord {
  readonly version: typeof RECORD_VERSION;
  readonly pid: number;
  readonly hostname: string;
  /** When the lock was taken, ISO 8601. */
  readonly acquiredAt: string;
  /** Free-form, JSON-safe details the owner publishes (say, its socket path). */
  readonly info: Readonly<Record<string, unknown>>;
}

export type ParsedRecord =
  | { readonly ok: true; readonly record: OwnerRecord }
  | { readonly ok: false; readonly reason: string };

const MAX_RECORD_BYTES = 64 * 1024;

export function serializeOwnerRecord(record: OwnerRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** Validates the text of `owner.json`. Never throws; `reason` is one short line. */
export function parseOwnerRecord(text: string): ParsedRecord {
  if (text.length > MAX_RECORD_BYTES) return { ok: false, reason: `larger than ${MAX_RECORD_BYTES} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not a JSON object' };
  }
  const v = value as Record<string, unknown>;
  if (v.version !== RECORD_VERSION) return { ok: false, reason: `version is ${show(v.version)}, not 1` };
  if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || v.pid <= 0) {
    return { ok: false, reason: `pid is ${show(v.pid)}, not a positive integer` };
  }
  if (typeof v.hostname !== 'string') return { ok: false, reason: 'hostname is not a string' };
  if (typeof v.acquiredAt !== 'string' || Number.isNaN(Date.parse(v.acquiredAt))) {
    return { ok: false, reason: 'acquiredAt is not a date' };
  }
  const info = v.info ?? {};
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    return { ok: false, reason: 'info is not a JSON object' };
  }
  return {
    ok: true,
    record: {
      version: RECORD_VERSION,
      pid: v.pid,
      hostname: v.hostname,
      acquiredAt: v.acquiredAt,
      info: info as Record<string, unknown>,
    },
  };
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

export function newOwnerRecord(info: Readonly<Record<string, unknown>> = {}): OwnerRecord {
  return {
    version: RECORD_VERSION,
    pid: process.pid,
    hostname: hostname(),
    acquiredAt: new Date().toISOString(),
    info,
  };
}

export type ReadRecord =
  | { readonly state: 'missing' }
  | { readonly state: 'corrupt'; readonly reason: string }
  | { readonly state: 'ok'; readonly record: OwnerRecord };

/** Reads and validates `path`. Never throws: unreadable counts as corrupt, with the reason. */
export async function readOwnerRecord(path: string): Promise<ReadRecord> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'missing' };
    return { state: 'corrupt', reason: `unreadable (${code ?? String(error)})` };
  }
  const parsed = parseOwnerRecord(text);
  return parsed.ok ? { state: 'ok', record: parsed.record } : { state: 'corrupt', reason: parsed.reason };
}

/**
 * Replaces `path` atomically: writes a temp file (mode 0600) in the same directory, fsyncs it, and
 * renames it over `path`. A reader sees the old record or the new one, never half of one.
 */
export async function writeOwnerRecord(path: string, record: OwnerRecord): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(serializeOwnerRecord(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Removes `path` if it names this process. Synchronous, so it also works in an 'exit' handler. */
export function removeOwnRecordSync(path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return;
  }
  const parsed = parseOwnerRecord(text);
  if (parsed.ok && parsed.record.pid === process.pid) rmSync(path, { force: true });
}
