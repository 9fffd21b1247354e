import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyMutant } from '../../bench/mutants/apply.js';
import { CATALOG } from '../../bench/mutants/catalog.js';
import { SERVE_TARGET, targetArgs } from '../../bench/mutants/mutant.js';
import { packageRoot } from '../../bench/mutants/tree.js';
import { strategyNames } from '../../src/strategies/registry.js';

/**
 * The catalog against the tree as it is on disk: a refactor that moves a mutant's snippet turns
 * this red, so the catalog is fixed in the same change instead of the suite reporting "does not
 * apply" weeks later.
 */
const root = packageRoot();

describe('the mutant catalog', () => {
  it('has at least 14 mutants with unique kebab-case ids', () => {
    expect(CATALOG.length).toBeGreaterThanOrEqual(14);
    const ids = CATALOG.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it('targets real strategies or the serve target, and each strategy the brief names', () => {
    const known = new Set([...strategyNames(), SERVE_TARGET]);
    for (const m of CATALOG) expect(known, m.id).toContain(m.strategy);
    const targeted = new Set(CATALOG.map((m) => m.strategy));
    for (const s of ['ipc', 'handoff', 'snapshot', SERVE_TARGET]) expect(targeted).toContain(s);
  });

  it('runs serve mutants with --target serve and the others with their strategy', () => {
    expect(targetArgs(SERVE_TARGET)).toEqual(['--target', 'serve']);
    expect(targetArgs('handoff')).toEqual(['--strategy', 'handoff']);
  });

  it.each(CATALOG.map((m) => [m.id, m] as const))('%s applies to the current tree', (_id, m) => {
    const source = readFileSync(join(root, m.file), 'utf8');
    const mutated = applyMutant(source, m);
    expect(mutated).not.toBe(source);
    expect(m.description.trim()).not.toBe('');
  });
});
