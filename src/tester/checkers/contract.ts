import type { Embedder } from '../../index/embedder.js';
import type { Strategy } from '../../strategies/strategy.js';
import type { StepEvent } from '../history.js';
import { type Checker, compose } from './checker.js';
import { exclusivityChecker } from './exclusivity.js';
import { oracleJudge } from './oracle.js';
import { allOf, type StateJudge, singleStateChecker, tokenJudge } from './single-state.js';
import type { IndexState } from './states.js';

/**
 * Every rule a strategy's run is held to: each search reads one state (judged by its tokens and
 * by the reference index), and outsiders get in only where the strategy allows.
 */
export function contractChecker(
  _strategy: Strategy,
  embedder: Embedder,
  onMatch?: (search: StepEvent, state: IndexState) => void,
): Checker {
  const judge: StateJudge = allOf([tokenJudge, oracleJudge(embedder)]);
  return compose('contract', [singleStateChecker(judge, onMatch), exclusivityChecker]);
}
