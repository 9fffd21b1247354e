/**
 * Runs async tasks one at a time, in call order. A DuckDB connection holds one transaction; two
 * interleaved callers on it would commit each other's half-done work.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
