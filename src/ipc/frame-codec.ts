/**
 * Length-prefixed JSON frames for the ipc socket: a 4-byte big-endian unsigned length, then that
 * many bytes of UTF-8 JSON whose top level is an object. Both sides refuse frames over a maximum
 * size, so a peer can never make the other buffer without bound.
 */

/** Default largest frame body, in bytes (the 4-byte header not counted). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
export const FRAME_HEADER_BYTES = 4;

/**
 * Why a frame could not be decoded.
 * - `oversized`: the header announces more than the maximum. The stream cannot be trusted after it
 *   (we refuse to skip megabytes on a peer's word), so the decoder stops.
 * - `invalid-utf8`, `invalid-json`, `not-an-object`: the frame was well delimited but its body is
 *   bad; the decoder goes on with the next frame.
 */
export type FrameErrorCode = 'oversized' | 'invalid-utf8' | 'invalid-json' | 'not-an-object';

export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
    /** True when the stream cannot go on after this error (the decoder has stopped). */
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

export type DecodedFrame =
  | { readonly ok: true; readonly frame: Record<string, unknown> }
  | { readonly ok: false; readonly error: FrameError };

/**
 * Encodes one frame. Throws a FrameError (`oversized`) when the body exceeds `maxFrameBytes`, and
 * a TypeError when `value` cannot be serialised (a cycle, a BigInt): both are the sender's bugs.
 */
export function encodeFrame(value: Record<string, unknown>, maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Buffer {
  const json = JSON.stringify(value);
  if (typeof json !== 'string') throw new TypeError('frame value does not serialise to JSON');
  const bodyLength = Buffer.byteLength(json, 'utf8');
  if (bodyLength > maxFrameBytes) {
    throw new FrameError(
      'oversized',
      `frame of ${bodyLength} bytes is over the limit of ${maxFrameBytes} bytes`,
      false,
    );
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * Reassembles frames from a byte stream split anywhere. `push` never throws: every problem comes
 * back as a `{ ok: false, error }` entry. After `push` returns, fewer than
 * `FRAME_HEADER_BYTES + maxFrameBytes` bytes stay buffered (the start of an incomplete frame).
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Body length of the frame being assembled, once its header is complete. */
  private expected: number | undefined;
  private stopped: FrameError | undefined;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > 0xffffffff) {
      throw new RangeError(`maxFrameBytes must be an integer from 1 to 2^32-1, not ${maxFrameBytes}`);
    }
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The fatal error that stopped this decoder, if any; later input is ignored. */
  get failure(): FrameError | undefined {
    return this.stopped;
  }

  /**
   * True when a frame has started but is not complete (a peer hanging up now cut it short). A frame
   * whose header is read and whose body is still to come counts: nothing is buffered then, but a
   * peer that sends a length and stops is as stuck as one that stops within the body.
   */
  get midFrame(): boolean {
    return (this.buffered > 0 || this.expected !== undefined) && this.stopped === undefined;
  }

  push(chunk: Uint8Array): DecodedFrame[] {
    if (this.stopped !== undefined || chunk.length === 0) return [];
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
    const out: DecodedFrame[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (length > this.maxFrameBytes) {
          this.stopped = new FrameError(
            'oversized',
            `frame announces ${length} bytes, over the limit of ${this.maxFrameBytes} bytes`,
            true,
          );
          this.chunks = [];
          this.buffered = 0;
          out.push({ ok: false, error: this.stopped });
          break;
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      const body = this.take(this.expected);
      this.expected = undefined;
      out.push(this.parse(body));
    }
    return out;
  }

  /** Removes and returns the first `n` bytes (n <= buffered), copying only when a frame spans chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const head = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return head;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0] as Buffer;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(used);
    }
    this.buffered -= n;
    return out;
  }

  private parse(body: Buffer): DecodedFrame {
    let text: string;
    try {
      text = this.utf8.decode(body);
    } catch {
      return { ok: false, error: new FrameError('invalid-utf8', 'frame body is not valid UTF-8', false) };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        error: new FrameError('invalid-json', `frame body is not JSON (${clip(why, 120)})`, false),
      };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      return {
        ok: false,
        error: new FrameError('not-an-object', `frame body must be a JSON object, not ${what}`, false),
      };
    }
    return { ok: true, frame: value as Record<string, unknown> };
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
