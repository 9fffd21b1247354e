import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { definedNames } from '../../../src/index/definitions.js';
import { definedNamesOf, definitionBonusOf, queriedNames } from '../../../src/tester/oracle/definitions.js';

describe('definitions', () => {
  it.each<[string, string[]]>([
    ['export async function parseConfig(x) {}', ['parseconfig']],
    ['  pub(crate) fn load_cache() {}', ['loadcache']],
    ['func (r *Reader) ReadHTTPRequest() {}', ['readhttprequest']],
    ['export default class Foo {}\nconst bar = 1', ['foo', 'bar']],
    ['function run() {\n  const subprocess = spawn(x);\n  let y = 2\n}', ['run']],
    ['class A {\n  killOwner(): void {\n    if (x) {\n  }\n}', ['a', 'killowner']],
    ['  public Foo bar(int x) {', ['bar']],
    ['export const größe = 1', ['größe']],
    ['x = function notAtLineStart() {}', []],
    ['constant value', []],
    ['// def commented', []],
  ])('%j defines %j', (content, names) => {
    expect([...definedNamesOf(content)]).toEqual(names);
  });

  it('reads the query words of three characters or more, and the ones spelled as identifiers', () => {
    const wanted = queriedNames('parse_config HTTPServer fn x kill');
    expect([...wanted.loose]).toEqual(['parseconfig', 'httpserver', 'kill']);
    expect([...wanted.exact]).toEqual(['parse_config', 'HTTPServer']);
    expect(definitionBonusOf('def parse_config():', queriedNames('parse_config'), 1, 0.25)).toBe(1);
    expect(definitionBonusOf('def parse_config():', queriedNames('parseConfig'), 1, 0.25)).toBe(0.25);
    expect(definitionBonusOf('def parse_config():', queriedNames('fn'), 1, 0.25)).toBe(0);
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
    '  ',
    'let ',
    'killOwner',
    ': void ',
    '{',
    'if ',
    'größe',
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
