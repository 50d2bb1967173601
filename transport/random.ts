/**
 * A small seedable PRNG (mulberry32) so that fault decisions and backoff jitter replay exactly
 * from a seed (DESIGN §5: a failing seed replays exactly). Not for anything secret: nonces come
 * from `node:crypto`.
 *
 * The state is one uint32, so a statechart can keep it in its context (serializable, no closure).
 */
export type RandomState = number;

/** One step: a float in [0, 1) and the next state. Pure. */
export function nextRandom(state: RandomState): [value: number, next: RandomState] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next];
}

/** Derives independent streams from one seed, e.g. one per peer link (FNV-1a over the label). */
export function deriveSeed(seed: number, label: string): RandomState {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

/** A mutable wrapper for callers that just want `() => number`. */
export class SeededRandom {
  private state: RandomState;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    const [value, next] = nextRandom(this.state);
    this.state = next;
    return value;
  }
}
