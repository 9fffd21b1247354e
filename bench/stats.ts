/** The p-quantile (0..1) of `values`, nearest rank; NaN for none. Sorting a copy is cheap next to any measurement. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}
