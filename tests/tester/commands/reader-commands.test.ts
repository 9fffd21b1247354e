import { describe, expect, it } from 'vitest';
import type { SearchRequest } from '../../../src/tester/clients/reader-actor.js';
import { RepeatSearch, rememberSearch } from '../../../src/tester/commands/reader-commands.js';
import type { SearchSpec } from '../../../src/tester/commands/search-spec.js';
import { deserializeCommands, serializeCommands } from '../../../src/tester/commands/serialize.js';
import { initialModel, type StressModel } from '../../../src/tester/model.js';
import type { StressWorld } from '../../../src/tester/world.js';

/** A world that only records which reader asked what (the search's answer is not the point here). */
function recordingWorld(asked: { slot: number; request: SearchRequest }[]): StressWorld {
  const event = { op: 'search', ok: true };
  return {
    reviveIfDead: async () => undefined,
    reader: (slot: number) => ({
      open: async () => event,
      search: async (request: SearchRequest) => {
        asked.push({ slot, request });
        return event;
      },
    }),
    requireOk: (e: unknown) => e,
    check: async () => undefined,
  } as unknown as StressWorld;
}

const SPEC: SearchSpec = { mode: 'bm25', query: { kind: 'word', word: 0 }, topK: 10, prefix: 0 };
const first: SearchRequest = { mode: 'hybrid', query: 'alpha', topK: 3, pathPrefix: 'src/' };
const second: SearchRequest = { mode: 'bm25', query: 'beta', topK: 10 };

function modelWith(searches: readonly { request: SearchRequest; slot: number }[]): StressModel {
  const model = initialModel(2);
  for (const s of searches) rememberSearch(model, s.request, SPEC, s.slot);
  return model;
}

describe('RepeatSearch', () => {
  it('names the search it repeats by content, so removing earlier steps keeps the question', async () => {
    const repeat = new RepeatSearch(1, 1, true);
    const asked: { slot: number; request: SearchRequest }[] = [];
    // The run that generated it: one back from the newest is the first search, by reader 1.
    await repeat.run(
      modelWith([
        { request: first, slot: 0 },
        { request: second, slot: 1 },
      ]),
      recordingWorld(asked),
    );
    // The minimizer's candidate without the first search: by position it would now repeat the second.
    await repeat.run(modelWith([{ request: second, slot: 1 }]), recordingWorld(asked));
    // And without any earlier search at all: the repeat still runs and asks the same.
    const bare = modelWith([]);
    expect(repeat.check(bare)).toBe(true);
    await repeat.run(bare, recordingWorld(asked));
    expect(asked).toEqual([
      { slot: 0, request: first },
      { slot: 0, request: first },
      { slot: 0, request: first },
    ]);
    expect(repeat.toString()).toBe(
      "repeat(hybrid 'alpha' k=3 in src/, by the reader that asked it, reader-1)",
    );
  });

  it('keeps the search it picked through a replay token', async () => {
    const repeat = new RepeatSearch(1, 0, false);
    await repeat.run(modelWith([{ request: second, slot: 0 }]), recordingWorld([]));
    const [revived] = deserializeCommands(JSON.parse(JSON.stringify(serializeCommands([repeat]))));
    const asked: { slot: number; request: SearchRequest }[] = [];
    await revived?.run(modelWith([{ request: first, slot: 0 }]), recordingWorld(asked));
    expect(asked).toEqual([{ slot: 1, request: second }]);
    expect(String(revived)).toBe("reader-2.repeat(bm25 'beta' k=10)");
  });

  it('picks by position until it has run, and needs an earlier search to pick from', () => {
    const repeat = new RepeatSearch(0, 2);
    expect(repeat.check(modelWith([]))).toBe(false);
    expect(repeat.toString()).toBe('reader-1.repeat(2 back)');
  });
});
