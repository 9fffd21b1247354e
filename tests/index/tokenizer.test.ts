import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { identifierParts, termFrequencies, tokenize } from '../../src/index/tokenizer.js';

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
    const whole = word.toLowerCase();
    if (whole.length > 1) terms.push(whole);
    const parts = referenceIdentifierParts(word);
    if (parts.length > 1) {
      for (const part of parts) if (part.length > 1 && part !== whole) terms.push(part);
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
    expect(tokenize('parseHttpRequest')).toEqual(['parsehttprequest', 'parse', 'http', 'request']);
  });

  it('splits snake_case on underscores', () => {
    expect(tokenize('load_config_file')).toEqual(['load_config_file', 'load', 'config', 'file']);
    // One part only: the word alone.
    expect(tokenize('__init__')).toEqual(['__init__']);
  });

  it('splits an acronym from the word that follows it', () => {
    expect(tokenize('HTTPServer')).toEqual(['httpserver', 'http', 'server']);
    expect(tokenize('parseHTTPRequest_v2')).toEqual(['parsehttprequest_v2', 'parse', 'http', 'request']);
    // The last capital of a run starts the next lower-case word, even a plural `s`.
    expect(tokenize('getURLs')).toEqual(['geturls', 'get', 'ur', 'ls']);
  });

  it('treats digits as their own parts and digit runs as words', () => {
    expect(tokenize('utf8Decode')).toEqual(['utf8decode', 'utf', 'decode']);
    expect(tokenize('base64 42 7')).toEqual(['base64', 'base', '64', '42']);
    expect(tokenize('123abc')).toEqual(['123', 'abc']);
  });

  it('drops words longer than 64 characters, and keeps one of exactly 64', () => {
    const long = `a${'b'.repeat(64)}`;
    const limit = `${'c'.repeat(32)}D${'e'.repeat(31)}`;
    expect(long).toHaveLength(65);
    expect(limit).toHaveLength(64);
    expect(tokenize(`x ${long} ok`)).toEqual(['ok']);
    expect(tokenize(limit)).toEqual([limit.toLowerCase(), 'c'.repeat(32), `d${'e'.repeat(31)}`]);
  });

  it('drops single characters, as words and as parts', () => {
    expect(tokenize('a b c = 1 + 2')).toEqual([]);
    expect(tokenize('xCoord')).toEqual(['xcoord', 'coord']);
    expect(tokenize('aB')).toEqual(['ab']);
  });

  it('does not repeat a part equal to the whole word, and only splits words with several parts', () => {
    expect(tokenize('Server')).toEqual(['server']);
    expect(tokenize('_private')).toEqual(['_private']);
    expect(tokenize('HTTP')).toEqual(['http']);
  });

  it('treats non-ASCII characters as separators', () => {
    expect(tokenize('caféBar naïve 日本語 données')).toEqual(['caf', 'bar', 'na', 've', 'donn', 'es']);
  });

  it('gives the same terms as the regular-expression reference on code-like text', () => {
    fc.assert(
      fc.property(codeLike, (text) => {
        expect(tokenize(text)).toEqual(referenceTokenize(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the same terms as the regular-expression reference on arbitrary unicode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        expect(tokenize(text)).toEqual(referenceTokenize(text));
      }),
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
    expect(counts.get('readfile')).toBe(2);
    expect(counts.get('read')).toBe(2);
    expect(counts.get('path')).toBe(1);
  });
});
