/**
 * What the store benchmark needs from a key/value system, so the same workloads drive etcd and
 * bosun with the same concurrency model: one client object per simulated client, issuing one
 * request at a time (bosun's store client is one session and serializes its writes; the etcd
 * client is held to the same rule by the workloads, which never overlap requests on a client).
 */
export interface BenchKv {
  put(key: string, value: Uint8Array): Promise<void>;
  /** Linearizable range over a prefix; resolves with the number of keys returned. */
  rangePrefix(prefix: string): Promise<number>;
  /** Watches a prefix from now on; `onPut` runs for every put event. Resolves once the watch is live. */
  watchPrefix(prefix: string, onPut: (key: string, value: Uint8Array) => void): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * How a client retries, the same for both systems (it is bosun's store client's policy): each
 * attempt has a deadline; a failed or timed-out attempt moves to the next member, the member that
 * answered last is tried first, and a whole round of refusals pauses 20 ms, doubling to 500 ms.
 */
export interface ClientPolicy {
  requestTimeoutMs: number;
}

export const RETRY_PAUSE_INITIAL_MS = 20;
export const RETRY_PAUSE_MAX_MS = 500;
export const MAX_ATTEMPTS = 20;

export interface BenchCluster {
  name: string;
  /** A fresh client (its own connection or session, as the system has them). */
  client(policy: ClientPolicy): Promise<BenchKv>;
  /** Pid of the current leader and of every member, for failover and RSS figures. */
  leaderPid(): Promise<number>;
  memberPids(): number[];
  /** Restarts a member that was killed and waits until it has caught up. */
  restart(pid: number): Promise<void>;
  /** Waits until every member is up, they agree on a leader, and followers have caught up. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** Synchronous last resort (process exit): SIGKILL every process this cluster started. */
  killNow(): void;
}
