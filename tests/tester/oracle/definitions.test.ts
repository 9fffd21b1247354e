import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { definedNames } from '../../../src/index/search.js';
import {
  definedNamesOf,
  definesAny,
  queriedNames,
  stablePartition,
} from '../../../src/tester/oracle/definitions.js';

describe('definitions', () => {
  it.each<[string, string[]]>([
    ['export async function parseConfig(x) {}', ['parseconfig']],
    ['  pub(crate) fn load_cache() {}', ['loadcache']],
    ['func (r *Reader) ReadHTTPRequest() {}', ['readhttprequest']],
    ['export default class Foo {}\nconst bar = 1', ['foo', 'bar']],
    ['x = function notAtLineStart() {}', []],
    ['constant value', []],
    ['// def commented', []],
  ])('%j defines %j', (content, names) => {
    expect([...definedNamesOf(content)]).toEqual(names);
  });

  it('reads the query identifiers of three characters or more, in any case style', () => {
    expect([...queriedNames('parse_config HTTPServer fn x')]).toEqual(['parseconfig', 'httpserver']);
    expect(definesAny('def parse_config():', queriedNames('parseConfig'))).toBe(true);
    expect(definesAny('def parse_config():', queriedNames('fn'))).toBe(false);
  });

  it('partitions stably', () => {
    expect(stablePartition([1, 2, 3, 4, 5, 6], (n) => n % 3 === 0)).toEqual([3, 6, 1, 2, 4, 5]);
  });

  // The oracle spells the rule out on its own; this checks the two spellings against each other.
  const fragment = fc.constantFrom(
    'export ',
    'pub(crate) ',
    'async ',
    'function',
    'function* ',
    'func (r *T) ',
    'class ',
    'def ',
    'const ',
    'parseConfig',
    'load_cache',
    'HTTPServer',
    '$x',
    '_',
    ' ',
    '\t',
    '\n',
    '\r\n',
    '(',
    ')',
    '{}',
    '\u2028',
  );
  test.prop([fc.array(fragment, { maxLength: 30 }).map((parts) => parts.join(''))], { numRuns: 2000 })(
    'finds the names search.ts finds',
    (content) => {
      expect(definedNamesOf(content)).toEqual(definedNames(content));
    },
  );
});
