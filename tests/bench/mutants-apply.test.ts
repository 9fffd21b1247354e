import { describe, expect, it } from 'vitest';
import { applyMutant, MutantDoesNotApply, occurrences, shownSnippet } from '../../bench/mutants/apply.js';
import type { Mutant } from '../../bench/mutants/mutant.js';

function mutant(find: string, replace: string): Mutant {
  return { id: 'm', strategy: 'ipc', description: 'a test mutant', file: 'src/x.ts', find, replace };
}

/** The MutantDoesNotApply `action` throws. */
function refusal(action: () => unknown): MutantDoesNotApply {
  try {
    action();
  } catch (error) {
    if (error instanceof MutantDoesNotApply) return error;
    throw error;
  }
  throw new Error('expected MutantDoesNotApply');
}

describe('applyMutant', () => {
  it('replaces the one occurrence and leaves the rest of the file alone', () => {
    const source = 'a();\nawait write(x);\nb();\n';
    expect(applyMutant(source, mutant('await write(x);', 'void write(x);'))).toBe(
      'a();\nvoid write(x);\nb();\n',
    );
  });

  it('applies a snippet that spans lines, whitespace and all', () => {
    const source = 'try {\n  go();\n} finally {\n  close();\n}\n';
    const out = applyMutant(source, mutant('} finally {\n  close();', '} catch {\n  close();'));
    expect(out).toBe('try {\n  go();\n} catch {\n  close();\n}\n');
  });

  it('takes the replacement literally ($ patterns are not special)', () => {
    expect(applyMutant('x = a;', mutant('a', "'$&$1$'"))).toBe("x = '$&$1$';");
  });

  it('refuses a snippet that is absent, naming the file and the snippet', () => {
    const error = refusal(() => applyMutant('nothing here', mutant('await write(x);', 'void write(x);')));
    expect(error.found).toBe(0);
    expect(error.message).toBe('does not apply: src/x.ts has no "await write(x);"');
  });

  it('refuses a snippet that occurs several times, and says how many', () => {
    const error = refusal(() => applyMutant('close();\nclose();\nclose();', mutant('close();', 'open();')));
    expect(error.found).toBe(3);
    expect(error.message).toBe('does not apply: src/x.ts has several (3) "close();"');
  });

  it('refuses an empty snippet as absent', () => {
    expect(refusal(() => applyMutant('abc', mutant('', 'x'))).found).toBe(0);
  });

  it('refuses a mutant that would change nothing', () => {
    expect(() => applyMutant('a', mutant('a', 'a'))).toThrow(/would change nothing/);
  });
});

describe('occurrences', () => {
  it('counts without overlaps', () => {
    expect(occurrences('aaaa', 'aa')).toBe(2);
    expect(occurrences('abcabc', 'abc')).toBe(2);
    expect(occurrences('abc', 'd')).toBe(0);
  });
});

describe('shownSnippet', () => {
  it('keeps a snippet on one line and cuts a long one short', () => {
    expect(shownSnippet('a\nb')).toBe('"a\\nb"');
    const long = shownSnippet('x'.repeat(200), 20);
    expect(long).toHaveLength(20);
    expect(long.endsWith('…"')).toBe(true);
  });
});
