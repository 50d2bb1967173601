/**
 * The failover windows of one fault, from what was observed (pure):
 * - time to a new leader: from the fault instant to the first poll in which a live member other
 *   than the faulted one reported itself leader (polls are ~10 ms apart: that is the resolution);
 * - time to the first acknowledged write: from the fault instant to the acknowledgement of the
 *   first put *issued at or after* the fault. A put issued before the fault can be acknowledged
 *   a moment after it because the old leader had already committed it; counting that would
 *   report a window of a fraction of a millisecond that no new request ever saw.
 * And the nearest-rank percentiles the report summarizes them with.
 */
import type { ChaosOp } from "./history.ts";

/**
 * Milliseconds from `faultMs` until the first put issued at or after it was acknowledged, or
 * null if none was (yet). `fromIndex` skips operations known to be older (the history is in
 * call order).
 */
export function timeToFirstAckedWrite(
  ops: readonly ChaosOp[],
  faultMs: number,
  fromIndex = 0,
): number | null {
  let first = Number.POSITIVE_INFINITY;
  for (let i = fromIndex; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.op !== "put" || op.returnMs === undefined || op.callMs < faultMs) continue;
    if (op.returnMs < first) first = op.returnMs;
  }
  return first === Number.POSITIVE_INFINITY ? null : first - faultMs;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Nearest-rank percentile (the smallest sample with at least p% of samples ≤ it). */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1]!;
}

export function summarize(samples: readonly (number | null)[]): Percentiles {
  const known = samples.filter((s): s is number => s !== null);
  return {
    count: known.length,
    p50: percentile(known, 50),
    p99: percentile(known, 99),
    max: known.length === 0 ? null : Math.max(...known),
  };
}
