/**
 * The simulation's event log: a bounded ring of the latest events for failure reports, plus a
 * running hash over every event ever recorded, so two runs can be compared for determinism
 * without keeping whole traces.
 */
export class Trace {
  private readonly ring: string[] = [];
  private next = 0;
  private count = 0;
  private hashState = 0x811c9dc5;

  constructor(
    private readonly limit: number,
    private readonly echo: ((line: string) => void) | null = null,
  ) {}

  record(timeMs: number, text: string): void {
    const line = `${String(timeMs).padStart(6)} ${text}`;
    if (this.ring.length < this.limit) this.ring.push(line);
    else this.ring[this.next] = line;
    this.next = (this.next + 1) % this.limit;
    this.count++;
    // FNV-1a over the line.
    let h = this.hashState;
    for (let i = 0; i < line.length; i++) {
      h ^= line.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    this.hashState = h >>> 0;
    this.echo?.(line);
  }

  /** The latest events, oldest first. */
  tail(): string[] {
    if (this.ring.length < this.limit) return this.ring.slice();
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  get events(): number {
    return this.count;
  }

  /** A fingerprint of the whole run's event sequence. */
  get hash(): string {
    return `${this.hashState.toString(16).padStart(8, "0")}/${this.count}`;
  }
}
