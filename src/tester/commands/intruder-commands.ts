import type { AsyncCommand } from 'fast-check';
import { INDEX_EXCLUSIVE, type OutsiderAccess, type OutsiderRule } from '../../strategies/strategy.js';
import type { StressModel } from '../model.js';
import type { StressWorld } from '../world.js';

/** The files a strategy lets the intruder try: its own rules, or the index alone. */
export function outsiderRules(world: StressWorld): readonly OutsiderRule[] {
  const rules = world.strategy.outsiders;
  return rules === undefined || rules.length === 0 ? [INDEX_EXCLUSIVE] : rules;
}

/**
 * intruder.probe(target, access): a process that is not embecode tries to open one of the
 * strategy's files; the exclusivity checker judges the outcome against the strategy's promise.
 */
export class IntruderProbe implements AsyncCommand<StressModel, StressWorld> {
  constructor(
    readonly target: number,
    readonly access: OutsiderAccess,
  ) {}

  check(): boolean {
    return true;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const intruder = world.intruder;
    if (intruder === undefined) return;
    const rules = outsiderRules(world);
    const rule = rules[this.target % rules.length] as OutsiderRule;
    const event = await intruder.probe(rule, rule.resolve(world.context), this.access, {
      holds: model.ownerHolds,
    });
    world.requireOk(event);
    await world.check(event);
  }

  toString(): string {
    return `intruder.probe(${this.target === 0 ? 'index' : `file kind ${this.target}`}, ${this.access})`;
  }
}
