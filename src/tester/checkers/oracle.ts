import type { Embedder } from '../../index/embedder.js';
import { prepareFile } from '../../index/prepare.js';
import type { PreparedFile, SearchMode } from '../../index/types.js';
import type { StepEvent } from '../history.js';
import { compareVerdict } from '../oracle/compare.js';
import { ReferenceIndex } from '../oracle/reference-index.js';
import type { StateJudge, StateVerdict } from './single-state.js';
import { requestOf } from './single-state.js';
import type { IndexState } from './states.js';

/**
 * The differential oracle as a judge: the reference index (src/tester/oracle/, plain TypeScript,
 * nothing of the index's SQL or caches) is built from exactly the files of the candidate state,
 * asked the same question, and its whole answer compared with the search's: same chunks, same
 * line ranges, same order, scores within tolerance, for every mode, prefix and top-k. Prepared
 * files (chunks, terms, embeddings) are computed once per content and shared by every state.
 */
export function oracleJudge(embedder: Embedder): StateJudge {
  const prepared = new Map<string, Promise<PreparedFile>>();
  const prepare = (path: string, content: string): Promise<PreparedFile> => {
    const key = `${path}\u0000${content}`;
    let file = prepared.get(key);
    if (file === undefined) {
      file = prepareFile(path, content, embedder);
      prepared.set(key, file);
    }
    return file;
  };
  const referenceOf = async (state: IndexState): Promise<ReferenceIndex> => {
    let index = ReferenceIndex.empty(embedder);
    for (const [path, file] of state.files) index = index.withFile(await prepare(path, file.content));
    return index;
  };
  return async (state: IndexState, search: StepEvent): Promise<StateVerdict> => {
    const { mode, query, topK, pathPrefix } = requestOf(search);
    const reference = await (await referenceOf(state)).search(query, {
      mode: mode as SearchMode,
      topK,
      ...(pathPrefix === undefined ? {} : { pathPrefix }),
    });
    const verdict = compareVerdict(search.results ?? [], reference);
    if (verdict.kind === 'agree') return { agrees: true };
    if (verdict.kind === 'agree-loosely') return { agrees: true, loosely: true };
    return {
      agrees: false,
      reason: `the reference index answers otherwise: ${verdict.reason}${verdict.loose === undefined ? '' : ` (compared loosely: ${verdict.loose})`}`,
      details: [
        `${mode} '${query}' top-${topK}${pathPrefix === undefined ? '' : ` under '${pathPrefix}'`}:`,
        ...verdict.table,
      ].join('\n'),
    };
  };
}
