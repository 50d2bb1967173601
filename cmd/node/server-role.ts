import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { API_ACTOR } from "../../actors/api/api-protocol.ts";
import { ApiOperations } from "../../actors/apiserver/api-operations.ts";
import { Authorization } from "../../actors/apiserver/auth/authorization.ts";
import { ensureBootstrapPolicy } from "../../actors/apiserver/auth/policy-bootstrap.ts";
import { ServiceAccountTokens } from "../../actors/apiserver/auth/service-account-token.ts";
import { serviceAccountAuthenticator } from "../../actors/apiserver/auth/token-request.ts";
import type { TokenAuthenticator } from "../../actors/apiserver/authn.ts";
import { internalApiMachine } from "../../actors/apiserver/internal-api.ts";
import type { MetricsSource } from "../../actors/apiserver/metrics-api.ts";
import { ObjectStore } from "../../actors/apiserver/object-store.ts";
import type { PodLogs } from "../../actors/apiserver/pod-logs.ts";
import { ResourceHandler } from "../../actors/apiserver/resource-handler.ts";
import { WatchCache } from "../../actors/apiserver/watch-cache.ts";
import type { ActorSystem } from "../../actors/system/actor-system.ts";
import type { Clock, TimerId } from "../../actors/system/clock.ts";
import { StoreClient } from "../../raft/client/store-client.ts";
import type { ConfState } from "../../raft/core/messages.ts";
import { RocksBackend } from "../../raft/mvcc/rocks-backend.ts";
import { MvccStore } from "../../raft/mvcc/store.ts";
import { Membership } from "../../raft/replica/membership.ts";
import { Replica } from "../../raft/replica/replica.ts";
import { ReplicaStorePort, STORE_ACTOR } from "../../raft/replica/replica-store-port.ts";
import { storeServiceMachine } from "../../raft/replica/store-service.ts";
import type { DiskFaultPoint } from "../../raft/storage/disk-faults.ts";
import { RocksDb } from "../../raft/storage/rocks/db.ts";
import { RocksLogStorage } from "../../raft/storage/rocksdb.ts";

/**
 * What makes a node a server (DESIGN §2): a Raft voter with its log in RocksDB, the MVCC store
 * in a second RocksDB, the `raft` and `store` actors, and a store client for this node's own use.
 */
export interface ServerRoleConfig {
  nodeId: string;
  dataDir: string;
  /** The bootstrap voters (every server of the initial cluster, this one included). */
  voters: string[];
  tickIntervalMs: number;
  electionTick: number;
  snapshotEntries?: number | undefined;
  /** How the API server reaches kubelets for pods/log (absent: a clear 404). */
  podLogs?: PodLogs | undefined;
  /** The slow-disk failpoint of a node started with --faults. */
  diskFaults?: DiskFaultPoint | undefined;
  /** How the API server reaches kubelets' Summary API for metrics.k8s.io. */
  metrics?: MetricsSource | undefined;
  /** Node,RBAC authorization of every API request (false: everyone may do everything). */
  authorization?: boolean;
  /** Signs and verifies ServiceAccount tokens (absent: no TokenRequest, no such tokens). */
  serviceAccountKeyPem?: string;
}

/** Defaults tuned for failover well under a second on loopback (etcd's are 100 ms / 1 s). */
export const DEFAULT_TICK_INTERVAL_MS = 50;
export const DEFAULT_ELECTION_TICKS = 10;
/** Store sessions a server keeps for requests arriving over HTTP (one write in flight each). */
const CLIENT_SESSIONS = 32;
/** Store sessions for leader-election Lease writes: the controller manager and the scheduler. */
const ELECTION_SESSIONS = 2;
/** How soon a server tries the bootstrap policy again after the store refused it. */
const POLICY_RETRY_MS = 500;

function seedFor(nodeId: string, wallMs: number): number {
  let h = 2166136261;
  for (const ch of `${nodeId}:${wallMs}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

export class ServerRole {
  private constructor(
    readonly replica: Replica,
    readonly store: MvccStore,
    private readonly clients: StoreClient[],
    private readonly port: ReplicaStorePort,
    private readonly log: RocksLogStorage,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly api: ApiOperations,
    /** Every object under /registry/, for the API servers' GETs and LISTs (see watch-cache.ts). */
    readonly watchCache: WatchCache,
    /** The API server's one REST handler: the HTTP and the internal API both serve through it. */
    readonly apiHandler: ResourceHandler,
    private readonly electionClients: StoreClient[],
  ) {}

  /** The bearer-token authenticators beside the admin token's: ServiceAccount tokens. */
  tokenAuthenticators(): TokenAuthenticator[] {
    const tokens = this.apiHandler.serviceAccountTokens;
    return tokens === null
      ? []
      : [serviceAccountAuthenticator(this.apiHandler.store, tokens, this.clock)];
  }

  /** A store session for a leader-election Lease write (see ObjectStore's electionClient). */
  get electionClient(): StoreClient {
    this.nextElectionClient = (this.nextElectionClient + 1) % this.electionClients.length;
    return this.electionClients[this.nextElectionClient] as StoreClient;
  }

  private nextElectionClient = 0;

  static async start(
    config: ServerRoleConfig,
    system: ActorSystem,
    logger: Logger,
    onFatal: (error: Error) => void,
    onMembersChanged: (confState: ConfState, context: Uint8Array) => void,
  ): Promise<ServerRole> {
    const confState: ConfState = {
      voters: config.voters,
      learners: [],
      votersOutgoing: [],
      learnersNext: [],
      autoLeave: false,
    };
    mkdirSync(config.dataDir, { recursive: true });
    const log = await RocksLogStorage.open(join(config.dataDir, "raft"), {
      confState,
      diskFaults: config.diskFaults,
    });
    const db = await RocksDb.open(join(config.dataDir, "mvcc"), { createIfMissing: true });
    // Applied batches are not fsync'd: the Raft log (fsync'd) replays whatever a machine crash
    // loses, since the applied index is written in the same batch as the data it covers.
    const store = await MvccStore.open(new RocksBackend(db, { ownsDb: true }), {
      syncWrites: false,
    });
    const replica = new Replica({
      system,
      log,
      store,
      logger: logger.child({ component: "raft" }),
      randomSeed: seedFor(config.nodeId, system.clock.wallMs()),
      tickIntervalMs: config.tickIntervalMs,
      electionTick: config.electionTick,
      ...(config.snapshotEntries
        ? {
            limits: {
              snapshotEveryEntries: config.snapshotEntries,
              // keep a tenth behind the snapshot: followers a little behind need no snapshot
              keepEntriesAfterSnapshot: Math.floor(config.snapshotEntries / 10),
            },
          }
        : {}),
      onFatal,
      onMembersChanged,
    });
    const port = new ReplicaStorePort(system, replica, store);
    await replica.start();
    system.spawn(STORE_ACTOR, storeServiceMachine, { input: { port } });
    const clients = Array.from(
      { length: CLIENT_SESSIONS },
      () => new StoreClient({ system, servers: () => replica.status().voters }),
    );
    // its own client: the cache's watch and revision rounds don't queue behind request traffic
    const cacheClient = new StoreClient({ system, servers: () => replica.status().voters });
    const electionClients = Array.from(
      { length: ELECTION_SESSIONS },
      () => new StoreClient({ system, servers: () => replica.status().voters }),
    );
    const watchCache = new WatchCache(
      () => cacheClient,
      system.clock,
      {},
      logger.child({ component: "watch-cache" }),
      () => store.compactRevision,
    );
    watchCache.start(system);
    // one object store and one REST handler per API server, for HTTP and actor messages alike
    let role: ServerRole | null = null;
    const objects = new ObjectStore(
      () => (role as ServerRole).client,
      watchCache,
      () => (role as ServerRole).electionClient,
    );
    const apiHandler = new ResourceHandler(
      objects,
      system.clock,
      config.podLogs,
      config.metrics,
      {},
      new Authorization(objects, config.authorization !== false),
      config.serviceAccountKeyPem ? new ServiceAccountTokens(config.serviceAccountKeyPem) : null,
    );
    // the Kubernetes API as actor messages for internal components (DESIGN §6)
    const api = new ApiOperations({ system, handler: apiHandler });
    role = new ServerRole(
      replica,
      store,
      clients,
      port,
      log,
      system.clock,
      logger,
      api,
      watchCache,
      apiHandler,
      electionClients,
    );
    system.spawn(API_ACTOR, internalApiMachine, { input: { port: api } });
    if (config.authorization !== false) role.bootstrapPolicy();
    return role;
  }

  private policyTimer: TimerId | null = null;
  private stopped = false;

  /**
   * The bootstrap RBAC policy, written by every server, whether or not it serves HTTPS (a chaos
   * cluster's servers serve only the internal API, and their components' requests are authorized
   * against these roles too); tried again until the store takes it.
   */
  private bootstrapPolicy(): void {
    const run = () => {
      this.policyTimer = null;
      if (this.stopped) return;
      ensureBootstrapPolicy(this.apiHandler.store, this.clock.wallMs()).catch((error: unknown) => {
        this.logger.debug({ error: (error as Error).message }, "bootstrap policy: retrying");
        if (!this.stopped) this.policyTimer = this.clock.setTimeout(run, POLICY_RETRY_MS);
      });
    };
    run();
  }

  /** Online membership changes, on the leader. */
  get membership(): Membership {
    this.membershipValue ??= new Membership(this.replica, this.clock);
    return this.membershipValue;
  }

  private membershipValue: Membership | null = null;

  /** A store client for one request; writes on different clients run in parallel. */
  get client(): StoreClient {
    this.nextClient = (this.nextClient + 1) % this.clients.length;
    return this.clients[this.nextClient] as StoreClient;
  }

  private nextClient = 0;

  /** Ready to serve: a leader is known and this replica has applied what it committed. */
  readiness(): { ready: boolean; reason: string } {
    const st = this.replica.status();
    if (st.leader === null) return { ready: false, reason: "no raft leader yet" };
    if (st.applied < st.commit)
      return { ready: false, reason: `applying ${st.applied}/${st.commit}` };
    return { ready: true, reason: `raft ${st.role}, leader ${st.leader}, term ${st.term}` };
  }

  /** Graceful stop: hand leadership to a caught-up peer first, so clients see no election. */
  async stop(transferWaitMs: (ms: number) => Promise<void>): Promise<void> {
    this.stopped = true;
    if (this.policyTimer !== null) this.clock.clearTimeout(this.policyTimer);
    const st = this.replica.status();
    if (st.role === "leader") {
      const peers = Object.entries(st.progress)
        .filter(([id]) => id !== st.id)
        .sort(([, a], [, b]) => b.match - a.match);
      const target = peers[0]?.[0];
      if (target) {
        this.logger.info({ to: target, term: st.term }, "stopping: transferring leadership");
        this.replica.transferLeadership(target);
        for (let i = 0; i < 20 && this.replica.softState().role === "leader"; i++) {
          await transferWaitMs(25);
        }
        const after = this.replica.softState();
        this.logger.info({ leader: after.lead, role: after.role }, "leadership after transfer");
      }
    }
    this.api.stop();
    this.apiHandler.authorization?.stop();
    this.watchCache.stop();
    for (const client of [...this.clients, ...this.electionClients, this.watchCache.client()])
      client.close();
    this.port.stop();
    this.replica.stop();
    await this.store.close();
    await this.log.close();
  }
}
