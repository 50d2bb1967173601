/**
 * The seeded pseudo-random generator behind randomized election timeouts. The core never calls
 * Math.random(): a run is a pure function of its seed (DESIGN §5, deterministic simulation).
 * Algorithm: mulberry32 (32-bit state, full period, good enough for jitter).
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n). */
  intn(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Prng.intn: bad bound ${n}`);
    return this.nextUint32() % n;
  }
}
