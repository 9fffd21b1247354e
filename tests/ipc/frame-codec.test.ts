import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_BYTES,
  type DecodedFrame,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameError,
} from '../../src/ipc/frame-codec.js';

/** Splits `bytes` at the given cut points (any order, duplicates allowed). */
function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(bytes.subarray(last, p));
    last = p;
  }
  parts.push(bytes.subarray(last));
  return parts;
}

function feed(decoder: FrameDecoder, chunks: readonly Uint8Array[]): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (const chunk of chunks) {
    out.push(...decoder.push(chunk));
    // Never more buffered than one incomplete frame.
    expect(decoder.bufferedBytes).toBeLessThan(FRAME_HEADER_BYTES + decoder.maxFrameBytes);
  }
  return out;
}

function frameOf(body: Buffer | string): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([header, bytes]);
}

/** JSON objects as messages carry them: strings with any code point, numbers, nesting. */
const message = fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 6,
});

describe('frame codec', () => {
  it('any split of a stream of valid frames reassembles exactly those frames, in order', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (values, cuts) => {
          const stream = Buffer.concat(values.map((v) => encodeFrame(v)));
          const decoder = new FrameDecoder();
          const decoded = feed(decoder, splitAt(stream, cuts));
          expect(decoded.every((d) => d.ok)).toBe(true);
          expect(decoded.map((d) => (d.ok ? d.frame : undefined))).toEqual(
            values.map((v) => JSON.parse(JSON.stringify(v))),
          );
          expect(decoder.bufferedBytes).toBe(0);
          expect(decoder.midFrame).toBe(false);
        },
      ),
    );
  });

  it('byte-at-a-time delivery gives the same frames', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 4 }), (values) => {
        const stream = Buffer.concat(values.map((v) => encodeFrame(v)));
        const decoded = feed(
          new FrameDecoder(),
          [...stream].map((b) => Uint8Array.of(b)),
        );
        expect(decoded.map((d) => (d.ok ? d.frame : d.error.code))).toEqual(
          values.map((v) => JSON.parse(JSON.stringify(v))),
        );
      }),
    );
  });

  it('arbitrary bytes in arbitrary chunks never throw, and every result is a frame or a precise error', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 16 }),
        fc.integer({ min: 1, max: 256 }),
        (chunks, max) => {
          const decoder = new FrameDecoder(max);
          let results: DecodedFrame[] = [];
          expect(() => {
            results = feed(decoder, chunks);
          }).not.toThrow();
          for (const r of results) {
            if (r.ok) {
              expect(typeof r.frame).toBe('object');
              expect(Array.isArray(r.frame)).toBe(false);
            } else {
              expect(r.error).toBeInstanceOf(FrameError);
              expect(['oversized', 'invalid-utf8', 'invalid-json', 'not-an-object']).toContain(r.error.code);
              expect(r.error.fatal).toBe(r.error.code === 'oversized');
            }
          }
          // After a fatal error nothing more comes out, and nothing is kept.
          const fatal = results.findIndex((r) => !r.ok && r.error.fatal);
          if (fatal >= 0) {
            expect(fatal).toBe(results.length - 1);
            expect(decoder.bufferedBytes).toBe(0);
            expect(decoder.push(Buffer.from(encodeFrame({ a: 1 })))).toEqual([]);
          }
        },
      ),
    );
  });

  it('bad bodies between good frames are reported, and the frames around them still decode', () => {
    const badBody = fc.oneof(
      fc.constant(Buffer.from('')),
      fc.constant(Buffer.from('{"unterminated": ')),
      fc.constant(Buffer.from([0xff, 0xfe, 0x7b, 0x7d])),
      fc
        .jsonValue()
        .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
        .map((v) => Buffer.from(JSON.stringify(v))),
      fc
        .string()
        .filter((s) => {
          try {
            JSON.parse(s);
            return false;
          } catch {
            return true;
          }
        })
        .map((s) => Buffer.from(s)),
    );
    fc.assert(
      fc.property(
        message,
        badBody,
        message,
        fc.array(fc.nat(), { maxLength: 8 }),
        (before, bad, after, cuts) => {
          const stream = Buffer.concat([encodeFrame(before), frameOf(bad), encodeFrame(after)]);
          const decoded = feed(new FrameDecoder(), splitAt(stream, cuts));
          expect(decoded).toHaveLength(3);
          expect(decoded[0]).toEqual({ ok: true, frame: JSON.parse(JSON.stringify(before)) });
          expect(decoded[1]?.ok).toBe(false);
          expect(decoded[2]).toEqual({ ok: true, frame: JSON.parse(JSON.stringify(after)) });
        },
      ),
    );
  });

  it('names each kind of bad body', () => {
    const codes = (body: Buffer | string) => {
      const [r] = new FrameDecoder().push(frameOf(body));
      return r?.ok === false ? [r.error.code, r.error.message] : ['ok', ''];
    };
    expect(codes('not json')).toEqual(['invalid-json', expect.stringMatching(/^frame body is not JSON/)]);
    expect(codes('')).toEqual(['invalid-json', expect.any(String)]);
    expect(codes(Buffer.from([0xc3, 0x28]))).toEqual(['invalid-utf8', 'frame body is not valid UTF-8']);
    expect(codes('[1,2]')).toEqual(['not-an-object', 'frame body must be a JSON object, not an array']);
    expect(codes('null')).toEqual(['not-an-object', 'frame body must be a JSON object, not null']);
    expect(codes('"hi"')).toEqual(['not-an-object', 'frame body must be a JSON object, not string']);
    expect(codes('{"ok":true}')).toEqual(['ok', '']);
  });

  it('an announced length over the limit is refused at the header, without waiting for the body', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (max, excess, cuts) => {
          const announced = Math.min(0xffffffff, max + excess);
          const header = Buffer.alloc(4);
          header.writeUInt32BE(announced, 0);
          const decoder = new FrameDecoder(max);
          const decoded = feed(decoder, splitAt(header, cuts));
          expect(decoded).toHaveLength(1);
          const [r] = decoded;
          expect(r?.ok).toBe(false);
          if (r?.ok === false) {
            expect(r.error.code).toBe('oversized');
            expect(r.error.message).toBe(
              `frame announces ${announced} bytes, over the limit of ${max} bytes`,
            );
          }
          expect(decoder.failure?.code).toBe('oversized');
        },
      ),
    );
  });

  it('a frame of exactly the maximum size passes; one byte more does not', () => {
    const max = 64;
    const exact = { k: 'x'.repeat(max - '{"k":""}'.length) };
    expect(encodeFrame(exact, max)).toHaveLength(FRAME_HEADER_BYTES + max);
    expect(new FrameDecoder(max).push(encodeFrame(exact, max))).toEqual([{ ok: true, frame: exact }]);
    const over = { k: `${exact.k}y` };
    expect(() => encodeFrame(over, max)).toThrow(FrameError);
    const [r] = new FrameDecoder(max).push(encodeFrame(over, max + 1));
    expect(r?.ok === false && r.error.code).toBe('oversized');
  });

  it('holds at most one incomplete frame, even when a huge chunk arrives at once', () => {
    const decoder = new FrameDecoder(1024);
    const frames = Array.from({ length: 2000 }, (_, i) => encodeFrame({ i, pad: 'p'.repeat(i % 900) }, 1024));
    const stream = Buffer.concat(frames);
    const cut = stream.length - 10;
    const decoded = feed(decoder, [stream.subarray(0, cut)]);
    expect(decoded).toHaveLength(1999);
    expect(decoder.midFrame).toBe(true);
    expect(feed(decoder, [stream.subarray(cut)])).toHaveLength(1);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('counts a frame whose header is read and whose body is pending as mid-frame', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame({ id: 1 });
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expect(decoder.midFrame).toBe(true);
    // The whole header and nothing else: nothing stays buffered, the frame is still incomplete.
    expect(decoder.push(frame.subarray(2, 4))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.midFrame).toBe(true);
    expect(decoder.push(frame.subarray(4))).toEqual([{ ok: true, frame: { id: 1 } }]);
    expect(decoder.midFrame).toBe(false);
  });

  it('encodes multi-byte UTF-8 with its byte length, not its string length', () => {
    const value = { s: 'é😀中' };
    const frame = encodeFrame(value);
    expect(frame.readUInt32BE(0)).toBe(Buffer.byteLength(JSON.stringify(value)));
    expect(new FrameDecoder().push(frame)).toEqual([{ ok: true, frame: value }]);
  });

  it('refuses a maximum it cannot honour', () => {
    expect(() => new FrameDecoder(0)).toThrow(RangeError);
    expect(() => new FrameDecoder(2 ** 32)).toThrow(RangeError);
    expect(new FrameDecoder().maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES);
  });
});
