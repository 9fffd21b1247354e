import type { Checker, Violation } from './checker.js';

/**
 * The owner's exclusivity, judged from outside: an intruder probe that got in where the strategy
 * promised it would be kept out (or was kept out where it promised entry) fails the run, and the
 * report says what the intruder could do while in.
 */
export const exclusivityChecker: Checker = {
  name: 'exclusivity',
  async check(_history, probe): Promise<Violation | undefined> {
    if (probe.actor !== 'intruder' || probe.outcome !== 'ok') return undefined;
    const detail = probe.detail ?? {};
    const gotIn = detail.gotIn === true;
    const promised = String(probe.args.promised);
    const what = `${String(probe.args.access)} open of the ${String(probe.args.target)} (${String(detail.path)})`;
    if (gotIn && promised === 'refused') {
      const did =
        Array.isArray(detail.did) && detail.did.length > 0
          ? `; while in it could: ${detail.did.join(', ')}`
          : '';
      return {
        kind: 'intruder',
        message: `intruder got in: a ${what} succeeded while the owner holds the index${did}`,
      };
    }
    if (!gotIn && promised === 'allowed') {
      return {
        kind: 'intruder',
        message: `intruder kept out: a ${what} failed where the strategy lets outsiders in: ${String(detail.error ?? 'no reason')}`,
      };
    }
    return undefined;
  },
};
