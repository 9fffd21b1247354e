import { ProtocolClient } from '../../child-protocol/client.js';
import type { PROTOCOL_VERSION } from '../../child-protocol/messages.js';
import { EmbecodeError } from '../../errors.js';
import {
  INTRUDER_HELLO,
  INTRUDER_PROTOCOL_VERSION,
  PROBE_STEP_DEADLINE_MS,
  type ProbeArgs,
  type ProbeResult,
} from './types.js';

// Fails to compile when the two protocol numbers drift apart (the child's hello would be refused).
const sameProtocol: typeof PROTOCOL_VERSION = INTRUDER_PROTOCOL_VERSION;
void sameProtocol;

/** A probe opens, reads, may write and checkpoint, and closes: a handful of steps, each bounded. */
const PROBE_TIMEOUT_MS = PROBE_STEP_DEADLINE_MS * 8;

/**
 * Drives helpers/stress-intruder.js, a child that opens DuckDB files with raw @duckdb/node-api,
 * as a program that is not embecode would. Use it to ask: can a stranger get into the index now?
 */
export class IntruderClient {
  private constructor(private readonly client: ProtocolClient) {}

  /** Starts the intruder child; `strategy` only labels its hello (for traces). */
  static async start(strategy = 'none', timeoutMs?: number): Promise<IntruderClient> {
    const client = await ProtocolClient.start('stress-intruder', strategy, timeoutMs);
    if (client.hello.hello !== INTRUDER_HELLO) {
      await client.kill();
      throw new EmbecodeError(
        'protocol',
        `dist/helpers/stress-intruder.js said hello as '${client.hello.hello}', not '${INTRUDER_HELLO}'; rebuild with \`npm run build\``,
      );
    }
    return new IntruderClient(client);
  }

  get pid(): number {
    return this.client.pid;
  }

  get alive(): boolean {
    return this.client.alive;
  }

  /** The child's stderr so far (the last 64 KiB). */
  get stderr(): string {
    return this.client.stderr;
  }

  /**
   * Tries to open `args.path` with `args.access`. Resolves with what happened, refused or not; rejects
   * only when the intruder could not tell (bad arguments, a missed deadline, the child died).
   */
  async probe(args: ProbeArgs, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
    const reply = await this.client.request('probe', { ...args }, timeoutMs);
    if (!reply.ok) {
      throw new EmbecodeError(
        'internal',
        `stress-intruder ${this.pid} could not probe ${args.path} ${args.access} (${reply.kind}): ${reply.error}; see its stderr: ${this.stderr.trim() || 'empty'}`,
      );
    }
    return reply.result as ProbeResult;
  }

  /** Closes its stdin (it exits at once: it holds nothing between probes); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void> {
    return this.client.stop(graceMs);
  }

  kill(signal?: NodeJS.Signals): Promise<void> {
    return this.client.kill(signal);
  }
}
