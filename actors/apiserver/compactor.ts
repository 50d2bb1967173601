/**
 * The store's history compactor (kube-apiserver's etcd3 `compactor`): every server tries, once
 * per interval, to claim the compaction with a txn on one coordination key; the winner compacts
 * to the revision it recorded one interval earlier, so at least one interval of history is
 * always kept for watches that resume from an older resourceVersion.
 *
 *   waiting ──interval──▶ claiming ──won, history to drop──▶ compacting ──done/failed──▶ waiting
 *                            └──lost / first claim / failed──────────────────────────▶ waiting
 *   any ──compactor.stop──▶ stopped
 *
 * The claim is `if version(key) == lastSeenVersion then put(key, rev) else get(key)`. Each
 * claim bumps the key's version, so of the servers that saw the same version exactly one wins
 * an interval; the losers learn the current version and revision and try again next interval.
 * A server that wins has waited a full interval since it recorded its revision, so what it
 * drops is at least one interval old. Errors (no leader, a revision already compacted) are
 * logged and the next interval tries again: compaction is housekeeping, never fatal.
 */
import type { Logger } from "pino";
import { type AnyActorRef, assign, fromPromise, setup } from "xstate";
import type { MvccCommand } from "../../raft/mvcc/commands.ts";
import type { CommandResponse } from "../../raft/mvcc/responses.ts";
import type { ActorSystem } from "../system/actor-system.ts";

/** kube-apiserver's `--etcd-compaction-interval` default. */
export const DEFAULT_COMPACTION_INTERVAL_MS = 5 * 60_000;

/**
 * The coordination key, named as Kubernetes names it. It lies outside `/registry/` on purpose:
 * the API servers' watch cache loads and watches every key under `/registry/` as a Kubernetes
 * object (JSON with metadata), and a bare revision number there would be a bogus object in
 * every LIST and watch of the cache, or a decode failure that makes it reload forever.
 */
export const COMPACT_REV_KEY = "compact_rev_key";

export const COMPACTOR_ACTOR = "compactor";

export interface CompactorLimits {
  /** Time between claims; also the least history kept after a compaction. */
  intervalMs: number;
  /**
   * A claim or compaction still unanswered after this long is abandoned until the next
   * interval (the store client's own retries give up after about 40 s).
   */
  roundTimeoutMs: number;
}

export const DEFAULT_COMPACTOR_LIMITS: CompactorLimits = {
  intervalMs: DEFAULT_COMPACTION_INTERVAL_MS,
  roundTimeoutMs: 60_000,
};

/** The part of a store client the compactor uses (a fake in tests). */
export interface CompactorStore {
  write(command: MvccCommand): Promise<CommandResponse>;
}

export interface CompactorInput {
  store: () => CompactorStore;
  limits?: Partial<CompactorLimits>;
  logger?: Logger;
}

/** What one claim learned: the key's version after it and the store's revision at it. */
interface Claim {
  won: boolean;
  version: number;
  revision: number;
}

interface CompactorContext {
  store: () => CompactorStore;
  limits: CompactorLimits;
  logger: Logger | null;
  /** The key's version as last seen; a claim succeeds only if nobody claimed since. */
  version: number;
  /** The store's revision at our last claim: what the next winning claim compacts to. */
  revision: number;
  /** While compacting: the revision being compacted to. */
  compactTo: number;
  compactions: number;
  lastError: string | null;
}

export type CompactorEvent = { type: "compactor.stop" };

const enc = (s: string) => Buffer.from(s, "utf8");

function describeError(response: CommandResponse): string {
  return response.kind === "error" ? JSON.stringify(response) : `unexpected ${response.kind}`;
}

const claimCompaction = fromPromise<
  Claim,
  { store: CompactorStore; version: number; revision: number }
>(async ({ input }) => {
  const key = enc(COMPACT_REV_KEY);
  const response = await input.store.write({
    op: "txn",
    compare: [{ target: "version", key, result: "=", operand: input.version }],
    // the value is for humans reading the store: the revision this claim compacts to
    success: [{ op: "put", key, value: enc(String(input.revision)) }],
    failure: [{ op: "range", key }],
  });
  if (response.kind !== "txn") throw new Error(`claim failed: ${describeError(response)}`);
  const revision = response.header.revision;
  if (response.succeeded) return { won: true, version: input.version + 1, revision };
  const read = response.responses[0];
  // a deleted key compares as version 0, like a key never written
  const version = read?.kind === "range" ? (read.kvs[0]?.version ?? 0) : 0;
  return { won: false, version, revision };
});

const compactStore = fromPromise<void, { store: CompactorStore; revision: number }>(
  async ({ input }) => {
    const response = await input.store.write({ op: "compact", revision: input.revision });
    if (response.kind !== "compact")
      throw new Error(`compact to ${input.revision} failed: ${describeError(response)}`);
  },
);

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export const compactorMachine = setup({
  types: {
    context: {} as CompactorContext,
    input: {} as CompactorInput,
    events: {} as CompactorEvent,
  },
  actors: { claimCompaction, compactStore },
  delays: {
    compactionInterval: ({ context }) => context.limits.intervalMs,
    roundTimeout: ({ context }) => context.limits.roundTimeoutMs,
  },
  guards: {
    // Kubernetes does not compact on its first claim: there is no earlier revision yet
    wonWithHistoryToDrop: ({ context }, claim: Claim) => claim.won && context.revision > 0,
  },
  actions: {
    startCompacting: assign(({ context }, claim: Claim) => ({
      compactTo: context.revision,
      version: claim.version,
      revision: claim.revision,
    })),
    recordClaim: assign(({ context }, claim: Claim) => {
      context.logger?.debug(
        { won: claim.won, version: claim.version, revision: claim.revision },
        claim.won ? "compaction claimed: first claim, nothing to compact yet" : "compaction lost",
      );
      return { version: claim.version, revision: claim.revision, lastError: null };
    }),
    recordCompaction: assign(({ context }) => {
      context.logger?.info({ revision: context.compactTo }, "compacted the store's history");
      return { compactions: context.compactions + 1, lastError: null };
    }),
    recordError: assign(({ context }, error: string) => {
      context.logger?.warn({ error }, "compaction failed; trying again next interval");
      return { lastError: error };
    }),
  },
}).createMachine({
  id: "compactor",
  context: ({ input }) => ({
    store: input.store,
    limits: { ...DEFAULT_COMPACTOR_LIMITS, ...input.limits },
    logger: input.logger ?? null,
    version: 0,
    revision: 0,
    compactTo: 0,
    compactions: 0,
    lastError: null,
  }),
  initial: "waiting",
  on: { "compactor.stop": { target: ".stopped" } },
  states: {
    waiting: { after: { compactionInterval: "claiming" } },
    claiming: {
      invoke: {
        src: "claimCompaction",
        input: ({ context }) => ({
          store: context.store(),
          version: context.version,
          revision: context.revision,
        }),
        onDone: [
          {
            guard: { type: "wonWithHistoryToDrop", params: ({ event }) => event.output },
            target: "compacting",
            actions: { type: "startCompacting", params: ({ event }) => event.output },
          },
          {
            target: "waiting",
            actions: { type: "recordClaim", params: ({ event }) => event.output },
          },
        ],
        // the claim's fate is unknown: keep what we knew; a stale version only loses once
        onError: {
          target: "waiting",
          actions: { type: "recordError", params: ({ event }) => errorText(event.error) },
        },
      },
      after: {
        roundTimeout: {
          target: "waiting",
          actions: { type: "recordError", params: "claim timed out" },
        },
      },
    },
    compacting: {
      invoke: {
        src: "compactStore",
        input: ({ context }) => ({ store: context.store(), revision: context.compactTo }),
        onDone: { target: "waiting", actions: "recordCompaction" },
        // the claim is spent (as in Kubernetes): the next winner compacts to a newer revision
        onError: {
          target: "waiting",
          actions: { type: "recordError", params: ({ event }) => errorText(event.error) },
        },
      },
      after: {
        roundTimeout: {
          target: "waiting",
          actions: { type: "recordError", params: "compaction timed out" },
        },
      },
    },
    stopped: { type: "final" },
  },
});

/**
 * Spawns the compactor in `system`, or nothing when the interval is 0 (compaction disabled).
 * Returns how to stop it.
 */
export function startCompactor(system: ActorSystem, input: CompactorInput): { stop(): void } {
  const intervalMs = input.limits?.intervalMs ?? DEFAULT_COMPACTION_INTERVAL_MS;
  if (intervalMs <= 0) {
    input.logger?.info("store compaction disabled (--compaction-interval 0)");
    return { stop: () => undefined };
  }
  const actor: AnyActorRef = system.spawn(COMPACTOR_ACTOR, compactorMachine, { input });
  return { stop: () => actor.send({ type: "compactor.stop" }) };
}
