/**
 * Decides whether a file's bytes are text, and decodes them. UTF-8 first, always: it is what
 * nearly every source file is, and a strict decode never misreads it. Two other encodings are read
 * where that is safe:
 * - UTF-16 with a byte-order mark (what Windows tools write): the BOM says the encoding outright.
 *   Without a BOM, UTF-16 is full of NUL bytes and stays `binary`: guessing it is unsafe.
 * - Windows-1252 (the superset of Latin-1 that browsers decode for "latin1") for bytes that are not
 *   valid UTF-8, hold no NUL, and no control byte other than tab, newline, form feed and carriage
 *   return. Every byte string is valid Windows-1252, so the control-byte rule is what keeps binary
 *   files out. A file in another legacy encoding (Shift-JIS, say) may pass and be read with wrong
 *   accented letters; search terms are ASCII words, which survive any of these encodings.
 */

/** How much of a file is searched for a NUL byte to call it binary (what git itself looks at). */
export const BINARY_SNIFF_BYTES = 8000;

export type DecodedText =
  | { readonly text: string; readonly encoding: 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252' }
  | { readonly reason: 'binary' | 'not-utf8'; readonly detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf16le = new TextDecoder('utf-16le', { fatal: true });
const utf16be = new TextDecoder('utf-16be', { fatal: true });
const windows1252 = new TextDecoder('windows-1252');

const TAB = 0x09;
const LF = 0x0a;
const FF = 0x0c;
const CR = 0x0d;
const DEL = 0x7f;
/** Bytes Windows-1252 leaves undefined (decoded as C1 control characters). */
const UNDEFINED_1252: ReadonlySet<number> = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

export function isBinary(bytes: Uint8Array): boolean {
  return bytes.subarray(0, BINARY_SNIFF_BYTES).indexOf(0) !== -1;
}

export function decodeText(bytes: Uint8Array): DecodedText {
  const bom16 = utf16Bom(bytes);
  if (bom16 !== undefined) {
    let text: string;
    try {
      text = (bom16 === 'utf-16le' ? utf16le : utf16be).decode(bytes);
    } catch {
      return {
        reason: 'not-utf8',
        detail: `starts with a ${bom16.toUpperCase()} byte-order mark but is not valid ${bom16.toUpperCase()}`,
      };
    }
    if (hasControlChars(text)) {
      return { reason: 'binary', detail: `${bom16.toUpperCase()} text with NUL or control characters` };
    }
    return { text, encoding: bom16 };
  }
  if (isBinary(bytes))
    return { reason: 'binary', detail: `NUL byte in the first ${BINARY_SNIFF_BYTES} bytes` };
  try {
    return { text: utf8.decode(bytes), encoding: 'utf-8' };
  } catch {
    // Not UTF-8: Windows-1252 if nothing in it looks like binary data.
  }
  for (const b of bytes) {
    if ((b < 0x20 && b !== TAB && b !== LF && b !== FF && b !== CR) || b === DEL || UNDEFINED_1252.has(b)) {
      return {
        reason: 'not-utf8',
        detail: `not valid UTF-8, and byte 0x${b.toString(16).padStart(2, '0')} rules out Latin-1 text`,
      };
    }
  }
  return { text: windows1252.decode(bytes), encoding: 'windows-1252' };
}

function utf16Bom(bytes: Uint8Array): 'utf-16le' | 'utf-16be' | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  return undefined;
}

/** NUL and C0 controls other than tab, newline, form feed, carriage return; DEL. */
function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== TAB && c !== LF && c !== FF && c !== CR) || c === DEL) return true;
  }
  return false;
}
