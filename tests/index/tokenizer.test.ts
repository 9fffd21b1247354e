import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identifierParts, stem, termFrequencies, tokenize } from '../../src/index/tokenizer.js';

// The regular-expression tokenizer the hand scanner replaced, kept verbatim as the reference.
const REF_WORD = /[A-Za-z_][A-Za-z0-9_]*|[0-9]+/g;
const REF_PART = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g;
const REF_MAX_TERM_LENGTH = 64;

function referenceIdentifierParts(identifier: string): string[] {
  const parts: string[] = [];
  for (const piece of identifier.split('_')) {
    for (const match of piece.matchAll(REF_PART)) parts.push(match[0].toLowerCase());
  }
  return parts;
}

function referenceTokenize(text: string): string[] {
  const terms: string[] = [];
  for (const match of text.matchAll(REF_WORD)) {
    const word = match[0];
    if (word.length > REF_MAX_TERM_LENGTH) continue;
    const whole = stem(word.toLowerCase());
    if (whole.length > 1) terms.push(whole);
    const parts = referenceIdentifierParts(word);
    if (parts.length > 1) {
      for (const part of parts) if (part.length > 1 && stem(part) !== whole) terms.push(stem(part));
    }
  }
  return terms;
}

/** Text that looks like code: identifiers in every casing, digits, punctuation, some non-ASCII. */
const codeLike = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      'a',
      'B',
      'z',
      'Z',
      '_',
      '__',
      '0',
      '9',
      ' ',
      '\n',
      '\t',
      '.',
      '(',
      ')',
      '{',
      '=',
      '-',
      '"',
    ),
    fc.constantFrom(
      'HTTP',
      'Server',
      'parse',
      'Request',
      'x2',
      'ID',
      'v1',
      'URLs',
      'é',
      'ß',
      'İ',
      'K',
      '日本',
    ),
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,70}$/),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  ),
  maxLength: 80,
});

describe('tokenize', () => {
  it('keeps a camelCase identifier whole and adds its parts', () => {
    expect(tokenize('parseHttpRequest')).toEqual(['parsehttprequest', 'parse', 'http', 'request'].map(stem));
  });

  it('splits snake_case on underscores', () => {
    expect(tokenize('load_config_file')).toEqual(['load_config_file', 'load', 'config', 'file'].map(stem));
    // One part only: the word alone.
    expect(tokenize('__init__')).toEqual(['__init__'].map(stem));
  });

  it('splits an acronym from the word that follows it', () => {
    expect(tokenize('HTTPServer')).toEqual(['httpserver', 'http', 'server'].map(stem));
    expect(tokenize('parseHTTPRequest_v2')).toEqual(
      ['parsehttprequest_v2', 'parse', 'http', 'request'].map(stem),
    );
    // The last capital of a run starts the next lower-case word, even a plural `s`.
    expect(tokenize('getURLs')).toEqual(['geturls', 'get', 'ur', 'ls'].map(stem));
  });

  it('treats digits as their own parts and digit runs as words', () => {
    expect(tokenize('utf8Decode')).toEqual(['utf8decode', 'utf', 'decode'].map(stem));
    expect(tokenize('base64 42 7')).toEqual(['base64', 'base', '64', '42'].map(stem));
    expect(tokenize('123abc')).toEqual(['123', 'abc'].map(stem));
  });

  it('drops words longer than 64 characters, and keeps one of exactly 64', () => {
    const long = `a${'b'.repeat(64)}`;
    const limit = `${'c'.repeat(32)}D${'e'.repeat(31)}`;
    expect(long).toHaveLength(65);
    expect(limit).toHaveLength(64);
    expect(tokenize(`x ${long} ok`)).toEqual(['ok'].map(stem));
    expect(tokenize(limit)).toEqual([limit.toLowerCase(), 'c'.repeat(32), `d${'e'.repeat(31)}`].map(stem));
  });

  it('drops single characters, as words and as parts', () => {
    expect(tokenize('a b c = 1 + 2')).toEqual([].map(stem));
    expect(tokenize('xCoord')).toEqual(['xcoord', 'coord'].map(stem));
    expect(tokenize('aB')).toEqual(['ab'].map(stem));
  });

  it('does not repeat a part equal to the whole word, and only splits words with several parts', () => {
    expect(tokenize('Server')).toEqual(['server'].map(stem));
    expect(tokenize('_private')).toEqual(['_private'].map(stem));
    expect(tokenize('HTTP')).toEqual(['http'].map(stem));
  });

  it('reads words in any script, folds case, and gives CJK runs as bigrams', () => {
    expect(tokenize('caféBar naïve 日本語 données ФАЙЛОВ ＡＢＣ 検')).toEqual([
      'cafébar',
      'café',
      'bar',
      'naïv',
      '日本',
      '本語',
      'donné',
      'файлов',
      'abc',
      '検',
    ]);
  });

  it('stems plurals, -ing and -ed, and a final e', () => {
    expect(
      ['processes', 'entries', 'exits', 'exited', 'exiting', 'embedding', 'parse', 'status'].map(stem),
    ).toEqual(['process', 'entry', 'exit', 'exit', 'exit', 'embed', 'pars', 'status']);
  });

  it('gives the same terms as the regular-expression reference on code-like text', () => {
    fc.assert(
      // The regular-expression reference knows ASCII only; other scripts have tests of their own.
      fc.property(
        // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII
        codeLike.map((t) => t.replace(/[^\x00-\x7f]/g, ' ')),
        (text) => {
          expect(tokenize(text)).toEqual(referenceTokenize(text));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives the same terms as the regular-expression reference on arbitrary ASCII', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)),
          maxLength: 200,
        }),
        (text) => {
          expect(tokenize(text)).toEqual(referenceTokenize(text));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('identifierParts', () => {
  it('splits an identifier into lower-cased parts, single characters included', () => {
    expect(identifierParts('parseHTTPRequest_v2')).toEqual(['parse', 'http', 'request', 'v', '2']);
    expect(identifierParts('Server')).toEqual(['server']);
    expect(identifierParts('')).toEqual([]);
  });

  it('matches the regular-expression reference on any string', () => {
    fc.assert(
      fc.property(fc.oneof(codeLike, fc.string({ unit: 'binary', maxLength: 100 })), (text) => {
        expect(identifierParts(text)).toEqual(referenceIdentifierParts(text));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('termFrequencies', () => {
  it('counts repeated terms', () => {
    const counts = termFrequencies('readFile(path); readFile(other)');
    expect(counts.get('readfil')).toBe(2);
    expect(counts.get('read')).toBe(2);
    expect(counts.get('path')).toBe(1);
  });
});
