/**
 * A process that is not embecode: `node dist/helpers/stress-intruder.js [--strategy NAME]`.
 * It opens the index the way any other program linking DuckDB would (raw @duckdb/node-api, no
 * embecode code at all), so whatever it manages to do, a stranger could do too. It speaks the
 * JSON-lines protocol of src/child-protocol/messages.ts with one op, `probe` (see
 * src/tester/intruder/types.ts). `--strategy` is only echoed in the hello, for traces.
 *
 * It keeps one in-memory DuckDB instance and ATTACHes each probe's file to it under a new alias,
 * DETACHing it before the reply, so a probe costs an attach, not a whole instance.
 *
 * Each DuckDB step has a deadline. DuckDB calls cannot be cancelled, so on a missed deadline the
 * intruder replies with the error and exits: its process dying is the only sure way its lock goes.
 */
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  INTRUDER_HELLO,
  INTRUDER_OPS,
  INTRUDER_PROTOCOL_VERSION,
  type IntruderAccess,
  MAX_PROBE_HOLD_MS,
  PROBE_STEP_DEADLINE_MS,
  type ProbeArgs,
  type ProbeResult,
} from '../src/tester/intruder/types.js';

const NAME = 'stress-intruder';
const EXIT_MISSED_DEADLINE = 3;

function send(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class MissedDeadline extends Error {}

async function within<T>(step: string, path: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MissedDeadline(
            `${NAME} ${process.pid}: '${step}' on ${path} took over ${PROBE_STEP_DEADLINE_MS} ms; the intruder exits so that whatever it holds is released`,
          ),
        ),
      PROBE_STEP_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([work(), late]);
  } finally {
    clearTimeout(timer);
  }
}

function probeArgs(args: unknown): ProbeArgs {
  const record = (typeof args === 'object' && args !== null ? args : {}) as Record<string, unknown>;
  const { path, access, prove, holdMs } = record;
  if (typeof path !== 'string' || path === '') {
    throw new Error(`${NAME} ${process.pid}: probe needs args.path, a non-empty string`);
  }
  if (access !== 'READ_WRITE' && access !== 'READ_ONLY') {
    throw new Error(`${NAME} ${process.pid}: probe needs args.access 'READ_WRITE' or 'READ_ONLY'`);
  }
  if (prove !== undefined && typeof prove !== 'boolean') {
    throw new Error(`${NAME} ${process.pid}: probe's args.prove must be a boolean when given`);
  }
  if (
    holdMs !== undefined &&
    (typeof holdMs !== 'number' || !Number.isInteger(holdMs) || holdMs < 0 || holdMs > MAX_PROBE_HOLD_MS)
  ) {
    throw new Error(
      `${NAME} ${process.pid}: probe's args.holdMs must be an integer from 0 to ${MAX_PROBE_HOLD_MS}`,
    );
  }
  return { path, access: access as IntruderAccess, prove: prove === true, holdMs: holdMs ?? 0 };
}

/**
 * One in-memory DuckDB instance and one connection for the life of the child: creating an instance
 * costs several times what ATTACH + DETACH of a file on an open one does. An in-memory instance
 * holds no file, so between probes the child holds nothing.
 */
interface Session {
  readonly instance: DuckDBInstance;
  readonly conn: DuckDBConnection;
}

let session: Session | undefined;
let probesSent = 0;

async function currentSession(): Promise<Session> {
  if (session !== undefined) return session;
  const instance = await within('start', ':memory:', () =>
    // Nothing is fetched at run time: a file that looks like another format is refused, not loaded.
    // One thread: its probes read a few rows, and more threads would only cost it CPU.
    DuckDBInstance.create(':memory:', {
      threads: '1',
      autoload_known_extensions: 'false',
      autoinstall_known_extensions: 'false',
    }),
  );
  try {
    const conn = await within('connect', ':memory:', () => instance.connect());
    session = { instance, conn };
    return session;
  } catch (error) {
    instance.closeSync();
    throw error;
  }
}

/**
 * Closes the shared instance, connection first (an instance closed with a connection open keeps
 * what it holds), which closes whatever it still had attached; the next probe starts a new one.
 */
function dropSession(): void {
  const old = session;
  session = undefined;
  if (old === undefined) return;
  try {
    old.conn.closeSync();
  } finally {
    old.instance.closeSync();
  }
}

/** DuckDB's word for an instance an error has left unusable: it must not serve another probe. */
function invalidates(error: unknown): boolean {
  return messageOf(error).includes('invalidated');
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * Gives back what `alias` attached. DETACH returns once DuckDB has closed the file (1.4+), so the
 * reply sent next finds no lock of this child on it. If DETACH fails, or the instance is invalidated,
 * the whole instance is closed instead, which closes every file it had.
 */
async function release(conn: DuckDBConnection, alias: string, path: string, broken: boolean): Promise<void> {
  if (broken) {
    dropSession();
    return;
  }
  try {
    await within('close', path, () => conn.run(`DETACH DATABASE IF EXISTS ${alias}`));
  } catch (error) {
    if (error instanceof MissedDeadline) throw error;
    dropSession();
  }
}

async function probe({ path, access, prove, holdMs = 0 }: ProbeArgs): Promise<ProbeResult> {
  // DuckDB creates a missing file on a read-write attach; a probe must leave no trace.
  if (!existsSync(path)) return { gotIn: false, error: 'missing' };
  const { conn } = await currentSession();
  // A new alias for every probe: one a failed probe left behind can never clash with the next.
  probesSent += 1;
  const alias = `intruder_${probesSent}`;
  const sql = async (step: string, text: string) =>
    (await within(step, path, () => conn.runAndReadAll(text))).getRows();
  try {
    await sql('open', `ATTACH ${sqlString(path)} AS ${alias}${access === 'READ_ONLY' ? ' (READ_ONLY)' : ''}`);
  } catch (error) {
    if (error instanceof MissedDeadline) throw error;
    // A refused ATTACH attaches nothing; IF EXISTS makes sure of it.
    await release(conn, alias, path, invalidates(error));
    return { gotIn: false, error: messageOf(error) };
  }
  const did: string[] = [`opened ${access}`];
  let broken = false;
  try {
    const tables = (
      await sql(
        'list tables',
        `SELECT table_name FROM duckdb_tables() WHERE NOT internal AND database_name = '${alias}' ORDER BY 1`,
      )
    ).map((row) => String(row[0]));
    did.push(`tables: ${tables.join(', ') || '(none)'}`);
    if (tables.includes('chunks')) {
      const rows = await sql('count chunks', `SELECT count(*) FROM ${alias}.chunks`);
      did.push(`chunks: ${String(rows[0]?.[0])} rows`);
    }
    if (prove === true && access === 'READ_WRITE') {
      await sql(
        'create',
        `CREATE TABLE IF NOT EXISTS ${alias}.intruder_probe (pid INTEGER, probed_at TIMESTAMP)`,
      );
      did.push('created table intruder_probe');
      await sql('insert', `INSERT INTO ${alias}.intruder_probe VALUES (${process.pid}, current_timestamp)`);
      did.push('inserted 1 row');
      await sql('checkpoint', `CHECKPOINT ${alias}`);
      did.push('checkpointed');
    }
    if (holdMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      did.push(`held it ${holdMs} ms`);
    }
  } catch (error) {
    if (error instanceof MissedDeadline) throw error;
    broken = invalidates(error);
    // It got in; what failed afterwards is part of what it did, not a refusal.
    did.push(`failed: ${messageOf(error)}`);
  }
  await release(conn, alias, path, broken);
  did.push('closed');
  return { gotIn: true, did };
}

function strategyLabel(argv: readonly string[]): string {
  const at = argv.indexOf('--strategy');
  return (at >= 0 ? argv[at + 1] : undefined) ?? 'none';
}

async function main(): Promise<void> {
  const ops: ReadonlySet<string> = new Set(INTRUDER_OPS);
  send({
    hello: INTRUDER_HELLO,
    protocol: INTRUDER_PROTOCOL_VERSION,
    pid: process.pid,
    strategy: strategyLabel(process.argv.slice(2)),
  });
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const started = performance.now();
    let id = -1;
    try {
      const request = JSON.parse(line) as { id?: unknown; op?: unknown; args?: unknown };
      if (typeof request.id === 'number') id = request.id;
      if (typeof request.op !== 'string' || !ops.has(request.op)) {
        throw new Error(
          `${NAME} ${process.pid}: unknown op ${JSON.stringify(request.op)}; the only op is 'probe'`,
        );
      }
      const result = await probe(probeArgs(request.args));
      send({ id, ok: true, result, ms: performance.now() - started });
    } catch (error) {
      const missed = error instanceof MissedDeadline;
      send({
        id,
        ok: false,
        error: messageOf(error),
        kind: missed ? 'timeout' : 'protocol',
        ms: performance.now() - started,
      });
      if (missed) process.exit(EXIT_MISSED_DEADLINE);
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${NAME} ${process.pid}: ${messageOf(error)}\n`);
    process.exit(2);
  },
);
