import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenize } from '../../src/index/tokenizer.js';
import { FILE_PATHS } from '../../src/tester/model.js';
import { ABSENT_TOKEN, fileContent, makeToken, TOKEN_PREFIX, tokensIn } from '../../src/tester/tokens.js';

/** Suffixes as the commands generate them: 1 to 6 lower-case letters. */
const suffix = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
  minLength: 1,
  maxLength: 6,
});
const sequence = fc.nat({ max: 100_000 });

describe('makeToken', () => {
  it('is lower-case letters behind the prefix', () => {
    expect(makeToken(0, 'a')).toMatch(new RegExp(`^${TOKEN_PREFIX}[a-z]+$`));
    fc.assert(
      fc.property(sequence, suffix, (n, s) => {
        expect(makeToken(n, s)).toMatch(/^zq[a-z]+$/);
      }),
    );
  });

  it('gives distinct sequences distinct tokens, whatever the suffixes', () => {
    fc.assert(
      fc.property(sequence, sequence, suffix, suffix, (a, b, sa, sb) => {
        fc.pre(a !== b);
        expect(makeToken(a, sa)).not.toBe(makeToken(b, sb));
      }),
      { numRuns: 2000 },
    );
    // The pair that once collided, when the sequence letters could contain the separator 'x'.
    expect(makeToken(1, 'xa')).not.toBe(makeToken(49, 'a'));
    const run = Array.from({ length: 5000 }, (_, i) => makeToken(i, i % 2 === 0 ? 'x' : 'xx'));
    expect(new Set(run).size).toBe(run.length);
  });

  it('never equals the absent token', () => {
    fc.assert(
      fc.property(sequence, suffix, (n, s) => {
        expect(makeToken(n, s)).not.toBe(ABSENT_TOKEN);
      }),
    );
  });
});

describe('tokensIn and fileContent', () => {
  it('finds exactly the token of a file body, whose one term is what a search for the token asks', () => {
    fc.assert(
      fc.property(
        sequence,
        suffix,
        fc.constantFrom(...FILE_PATHS, 'a-b c.py', 'deep/dir/x_y.ts'),
        fc.nat({ max: 6 }),
        (n, s, path, filler) => {
          const token = makeToken(n, s);
          const content = fileContent(path, token, filler);
          expect(content.endsWith('\n')).toBe(true);
          expect(content.split('\n')).toHaveLength(filler + 5);
          expect(new Set(tokensIn(content))).toEqual(new Set([token]));
          expect(tokensIn(content)).toHaveLength(2);
          // The tokenizer stems (`zqaxs` is the term `zqax`), the same for the query as for the body.
          const asked = tokenize(token);
          expect(asked).toHaveLength(1);
          const terms = tokenize(content);
          expect(terms).toContain(asked[0]);
          expect(terms.filter((t) => t.startsWith(TOKEN_PREFIX) && t !== asked[0])).toEqual([]);
        },
      ),
    );
  });

  it('gives tokens of different writes different terms, stemmed or not: one right answer each', () => {
    fc.assert(
      fc.property(sequence, suffix, sequence, suffix, (n1, s1, n2, s2) => {
        fc.pre(n1 !== n2);
        expect(tokenize(makeToken(n1, s1))).not.toEqual(tokenize(makeToken(n2, s2)));
      }),
    );
  });

  it('finds tokens only as whole words', () => {
    expect(tokensIn('zqaxa zqbxb, (zqcxc)')).toEqual(['zqaxa', 'zqbxb', 'zqcxc']);
    expect(tokensIn('xzqaxa zqaxa1 zq zqAB handle_zqaxa')).toEqual([]);
    expect(tokensIn('no tokens here')).toEqual([]);
    expect(tokensIn(`// ${ABSENT_TOKEN}`)).toEqual([ABSENT_TOKEN]);
  });
});
