/**
 * The one seeded PRNG of the tree (mulberry32: 32-bit state, full period, good enough for
 * jitter, tie-breaking and fault decisions), so that election timeouts, fault rules, backoff
 * jitter, scheduling ties and chaos workloads replay exactly from a seed (DESIGN §5: a failing
 * seed replays exactly). Not for anything secret: nonces come from `node:crypto`.
 *
 * The state is one uint32, so a statechart can keep it in its context (serializable, no closure).
 */
export type RandomState = number;

/** One step: a uniform 32-bit unsigned integer and the next state. Pure. */
export function nextUint32(state: RandomState): [value: number, next: RandomState] {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [(t ^ (t >>> 14)) >>> 0, next];
}

/** One step: a float in [0, 1) and the next state. Pure. */
export function nextRandom(state: RandomState): [value: number, next: RandomState] {
  const [value, next] = nextUint32(state);
  return [value / 4294967296, next];
}

/** Derives independent streams from one seed, e.g. one per peer link (FNV-1a over the label). */
export function deriveSeed(seed: number, label: string): RandomState {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

/** A mutable wrapper for callers that keep the state themselves. */
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

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const [value, next] = nextUint32(this.state);
    this.state = next;
    return value;
  }

  /** A uniform integer in [0, n). */
  intn(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`SeededRandom.intn: bad bound ${n}`);
    return this.nextUint32() % n;
  }
}
