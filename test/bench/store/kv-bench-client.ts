/**
 * What the store benchmark needs from a key/value system, so the same workloads drive etcd and
 * bosun with the same concurrency model: one client object per simulated client.
 */
export interface BenchKv {
  put(key: string, value: Uint8Array): Promise<void>;
  /** Linearizable range over a prefix; resolves with the number of keys returned. */
  rangePrefix(prefix: string): Promise<number>;
  /** Watches a prefix from now on; `onPut` runs for every put event. Resolves once the watch is live. */
  watchPrefix(prefix: string, onPut: (key: string, value: Uint8Array) => void): Promise<() => void>;
  close(): Promise<void>;
}

export interface BenchCluster {
  name: string;
  /** A fresh client (its own connection where the system has connections). */
  client(): Promise<BenchKv>;
  /** Pid of the current leader and of every member, for failover and RSS figures. */
  leaderPid(): Promise<number>;
  memberPids(): number[];
  /** Restarts a member that was killed. */
  restart(pid: number): Promise<void>;
  stop(): Promise<void>;
}
