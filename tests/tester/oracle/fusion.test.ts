import { describe, expect, it } from 'vitest';
import { COSINE_FLOOR, fuseScores } from '../../../src/tester/oracle/fusion.js';

const chunk = (path: string, score: number) => ({ path, startLine: 1, endLine: 4, score });

describe('fuseScores', () => {
  it('gives a chunk whose only cosine is rounding noise no vector part, whatever the best is', () => {
    // The stress run that showed it: under a path prefix the vector list held one chunk, of no
    // similarity; the index's FLOAT sum left 1e-9 where these doubles give 0.
    for (const noise of [0, 1e-9, -1e-9, COSINE_FLOOR / 2]) {
      const [only] = fuseScores([], [chunk('src/alpha.ts', noise)], ['zqbxxtd']);
      expect(only?.score).toBe(0);
    }
  });

  it('scales cosines from the floor on by the best one', () => {
    const fused = fuseScores([], [chunk('src/a.ts', 0.5), chunk('src/b.ts', 0.25)], ['x']);
    expect(fused.map((c) => c.score)).toEqual([0.4, 0.2]);
  });
});
