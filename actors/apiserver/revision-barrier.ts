/**
 * The store's current revision for consistent reads, one linearizable round shared by every
 * reader that asks while the previous round is in flight (Kubernetes' consistent reads from
 * cache ask etcd for its revision; here concurrent readers share the ask, as ReadIndex batches).
 *
 * A reader may only use a round that *started after it asked*: a round already in flight may
 * have taken its read index before a write the reader has seen acknowledged. So a reader that
 * arrives during a round waits for the next one, which starts when the current one ends.
 */
export class RevisionBarrier {
  private running = false;
  private queued: {
    promise: Promise<number>;
    resolve: (revision: number) => void;
    reject: (error: unknown) => void;
  } | null = null;

  /** `fetch` reads the store's revision linearizably. */
  constructor(private readonly fetch: () => Promise<number>) {}

  /** A revision at least as new as every write acknowledged before this call. */
  revision(): Promise<number> {
    if (!this.running) return this.start();
    if (this.queued === null) {
      let resolve!: (revision: number) => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<number>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.queued = { promise, resolve, reject };
    }
    return this.queued.promise;
  }

  private start(): Promise<number> {
    this.running = true;
    const round = this.fetch();
    const next = () => {
      this.running = false;
      const waiting = this.queued;
      this.queued = null;
      if (waiting !== null) this.start().then(waiting.resolve, waiting.reject);
    };
    round.then(next, next);
    return round;
  }
}
