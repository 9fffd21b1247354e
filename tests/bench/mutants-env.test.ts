import { describe, expect, it } from 'vitest';
import { childEnv } from '../../bench/mutants/suite.js';

describe('childEnv', () => {
  it('drops every STRESS_* knob, so runs use the default settings, and keeps the rest', () => {
    const env = childEnv({
      PATH: '/bin',
      STRESS_RUNS: '5',
      STRESS_SEED: '9',
      HOME: '/root',
      UNSET: undefined,
    });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root' });
  });
});
