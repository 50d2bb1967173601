/**
 * Lease-based leader election (client-go's `leaderelection`), as a statechart, on a
 * coordination.k8s.io/v1 Lease: `holderIdentity`, `leaseDurationSeconds`, `acquireTime`,
 * `renewTime`, `leaseTransitions`. Every write is an update carrying the resourceVersion we read,
 * so two candidates racing for an expired lease cannot both win: the loser gets 409.
 *
 *   candidate ──acquired──▶ leader.holding ──renew interval──▶ leader.renewing ──ok──▶ holding
 *      ▲  │                      │ renew deadline passed (no successful renew)
 *      │  └─held/409──▶ follower ◀┘
 *      └──retry period──┘
 *   stop: leader ──▶ releasing (holderIdentity cleared) ──▶ released;  others ──▶ released
 *
 * Expiry is judged as client-go does, by the *local monotonic* time at which this candidate
 * last saw the lease record change (not by comparing the holder's wall-clock renewTime with
 * ours), so clock skew between servers cannot make two leaders. The timestamps written into
 * the object are wall-clock (`clock.wallMs()`), for humans and kubectl.
 *
 * Defaults, for takeover well under a second: the leader renews every 200 ms and gives up
 * leading when it has not renewed for 600 ms (renew deadline) — strictly before the 800 ms
 * lease runs out on anyone else's clock, so the old leader has stopped acting before a new one
 * can start (the 200 ms gap covers timer and event-loop delays). Followers look every 100 ms,
 * so a dead holder is replaced ≈ 0.8–1 s after its last renewal, and a released lease (stop)
 * within ~100 ms. A renew that fails transiently is retried at once on the next interval; three
 * can fail before the deadline.
 */

import { assign, fromPromise, setup } from "xstate";
import { asObject, type JsonObject } from "../api/json.ts";
import { microTime } from "../api/meta-time.ts";
import type { Clock } from "../system/clock.ts";
import type { ObjectApi } from "./api-client.ts";
import { isAlreadyExists, isConflict, isNotFound } from "./errors.ts";

export const LEASES = "leases.coordination.k8s.io";

export interface LeaderElectionTimings {
  /** How long a lease is good for after its last renewal, as seen by the others. */
  leaseDurationMs: number;
  /** The leader steps down when it has not renewed for this long (< leaseDurationMs). */
  renewDeadlineMs: number;
  /** The leader renews this often. */
  renewIntervalMs: number;
  /** Non-leaders try to acquire this often. */
  retryPeriodMs: number;
}

/**
 * Takeover after a holder dies takes about `leaseDurationMs`. The renew deadline leaves the
 * holder 100 ms to stop before anyone may take over (one machine: no clock skew to cover); any
 * less tolerance and a loaded cluster's slow writes made leaders step down and flap. A candidate
 * looks every 50 ms: it sees the holder's last renewal at most that late, and the takeover
 * comes at most that much after the lease ran out (a read each time, from the watch cache).
 */
export const DEFAULT_LEADER_ELECTION_TIMINGS: LeaderElectionTimings = {
  leaseDurationMs: 800,
  renewDeadlineMs: 700,
  renewIntervalMs: 200,
  retryPeriodMs: 50,
};

/** client-go's checks: the leader must step down before the others may take over. */
export function checkLeaderElectionTimings(t: LeaderElectionTimings): void {
  for (const [name, v] of Object.entries(t))
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`leader election: ${name} must be > 0`);
  if (t.renewDeadlineMs >= t.leaseDurationMs)
    throw new Error("leader election: the renew deadline must be shorter than the lease duration");
  if (t.renewIntervalMs >= t.renewDeadlineMs)
    throw new Error("leader election: the retry period must be shorter than the renew deadline");
}

export interface LeaderElectionInput extends Partial<LeaderElectionTimings> {
  api: ObjectApi;
  clock: Clock;
  namespace: string;
  leaseName: string;
  identity: string;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

/** What we last saw of the lease, and when (monotonic). */
interface Observed {
  holder: string;
  resourceVersion: string;
  atMs: number;
}

interface LeaderElectionContext extends LeaderElectionTimings {
  api: ObjectApi;
  clock: Clock;
  namespace: string;
  leaseName: string;
  identity: string;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  observed: Observed | null;
  /** The lease object as last read or written by us. */
  lease: JsonObject | null;
  /** Monotonic time at which our last successful acquire/renew was *sent*. */
  renewedAtMs: number;
  transitions: number;
  lastError: string | null;
}

export type LeaderElectionEvent = { type: "election.stop" };

type AttemptOutcome =
  | { kind: "acquired"; lease: JsonObject; sentAtMs: number }
  | { kind: "held"; lease: JsonObject | null; observed: Observed | null };

function leaseSpec(o: JsonObject | null): JsonObject {
  return asObject(o?.spec);
}

function observe(lease: JsonObject, previous: Observed | null, nowMs: number): Observed {
  const holder = String(leaseSpec(lease).holderIdentity ?? "");
  const resourceVersion = String(asObject(lease.metadata).resourceVersion ?? "");
  if (previous && previous.resourceVersion === resourceVersion) return previous;
  return { holder, resourceVersion, atMs: nowMs };
}

interface AttemptInput {
  context: LeaderElectionContext;
  renewing: boolean;
}

/** One acquire-or-renew (client-go's `tryAcquireOrRenew`). */
async function tryAcquireOrRenew({ context: c, renewing }: AttemptInput): Promise<AttemptOutcome> {
  const sentAtMs = c.clock.nowMs();
  const now = microTime(c.clock.wallMs());
  const durationSeconds = Math.max(1, Math.ceil(c.leaseDurationMs / 1000));
  const renewed = renewing ? await renewHeldLease(c, now) : null;
  if (renewed !== null) return { kind: "acquired", lease: renewed, sentAtMs };
  let current: JsonObject;
  try {
    // a candidate's look, every retry period, is a read of this server's own replica
    // (resourceVersion "0"), not a quorum read through the Raft leader: three elections'
    // candidates on two servers made it most of an idle cluster's reads. A stale copy is safe:
    // the write below pins the resourceVersion read, so it fails with 409; and a lease seen to
    // change later only makes a candidate judge it expired later, never earlier.
    current = await c.api.get(LEASES, c.leaseName, {
      namespace: c.namespace,
      ...(renewing ? {} : { resourceVersion: "0" }),
    });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      const lease = await c.api.create(
        LEASES,
        {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: c.leaseName, namespace: c.namespace },
          spec: {
            holderIdentity: c.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
        { namespace: c.namespace },
      );
      return { kind: "acquired", lease, sentAtMs };
    } catch (e) {
      if (isAlreadyExists(e)) return { kind: "held", lease: null, observed: c.observed };
      throw e;
    }
  }
  const spec = leaseSpec(current);
  const holder = String(spec.holderIdentity ?? "");
  const observed = observe(current, c.observed, c.clock.nowMs());
  const ours = holder === c.identity;
  const expired = observed.atMs + c.leaseDurationMs <= c.clock.nowMs();
  if (!ours && holder !== "" && !expired) return { kind: "held", lease: current, observed };
  if (renewing && !ours) return { kind: "held", lease: current, observed };
  const transitions = Number(spec.leaseTransitions ?? 0);
  const next: JsonObject = {
    ...current,
    spec: {
      ...spec,
      holderIdentity: c.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: ours ? (spec.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: ours ? transitions : transitions + 1,
    },
  };
  try {
    const lease = await c.api.update(LEASES, next, { namespace: c.namespace });
    return { kind: "acquired", lease, sentAtMs };
  } catch (error) {
    // 409: someone else wrote the lease since we read it — they won this round
    if (isConflict(error) || isNotFound(error)) return { kind: "held", lease: null, observed };
    throw error;
  }
}

/**
 * A holder's renewal in one write: the Lease it last wrote, with a new renewTime, guarded by
 * that resourceVersion — no read first, which halves a renewal's round trips on a busy cluster.
 * A 409 means the Lease changed under us: null, and the caller reads it and decides as usual.
 */
async function renewHeldLease(c: LeaderElectionContext, now: string): Promise<JsonObject | null> {
  if (!c.lease || leaseSpec(c.lease).holderIdentity !== c.identity) return null;
  try {
    return await c.api.update(
      LEASES,
      { ...c.lease, spec: { ...leaseSpec(c.lease), renewTime: now } },
      { namespace: c.namespace },
    );
  } catch (error) {
    if (isConflict(error) || isNotFound(error)) return null;
    throw error;
  }
}

/** Clears holderIdentity so that a successor need not wait for the lease to expire. */
async function releaseLease({ context: c }: { context: LeaderElectionContext }): Promise<void> {
  if (!c.lease) return;
  const spec = leaseSpec(c.lease);
  if (spec.holderIdentity !== c.identity) return;
  await c.api.update(
    LEASES,
    {
      ...c.lease,
      spec: {
        ...spec,
        holderIdentity: "",
        leaseDurationSeconds: 1,
        renewTime: microTime(c.clock.wallMs()),
      },
    },
    { namespace: c.namespace },
  );
}

export const leaderElectionMachine = setup({
  types: {
    context: {} as LeaderElectionContext,
    input: {} as LeaderElectionInput,
    events: {} as LeaderElectionEvent,
  },
  actors: {
    tryAcquireOrRenew: fromPromise<AttemptOutcome, AttemptInput>(({ input }) =>
      tryAcquireOrRenew(input),
    ),
    releaseLease: fromPromise<void, { context: LeaderElectionContext }>(({ input }) =>
      releaseLease(input),
    ),
  },
  delays: {
    retryPeriod: ({ context }) => context.retryPeriodMs,
    renewInterval: ({ context }) => context.renewIntervalMs,
    /** Time left before the renew deadline, counted from the last successful renewal. */
    renewDeadline: ({ context }) =>
      Math.max(0, context.renewedAtMs + context.renewDeadlineMs - context.clock.nowMs()),
  },
  guards: {
    isAcquired: (_, outcome: AttemptOutcome) => outcome.kind === "acquired",
    /**
     * Acquired, with time left before the renew deadline (counted from when the request was
     * sent). An acquisition that took longer than that cannot be led on safely; starting the
     * controllers only to stop them at once made a loaded cluster's leaders flap, relisting
     * everything each time — instead the candidate renews at once, as the holder it now is.
     */
    isAcquiredInTime: ({ context }, outcome: AttemptOutcome) =>
      outcome.kind === "acquired" &&
      context.clock.nowMs() - outcome.sentAtMs < context.renewDeadlineMs,
    isRenewDeadlinePassed: ({ context }) =>
      context.clock.nowMs() - context.renewedAtMs >= context.renewDeadlineMs,
  },
  actions: {
    recordLease: assign(({ context }, outcome: AttemptOutcome) => {
      if (outcome.kind === "acquired")
        return {
          lease: outcome.lease,
          renewedAtMs: outcome.sentAtMs,
          observed: observe(outcome.lease, null, outcome.sentAtMs),
          lastError: null,
        };
      return { lease: outcome.lease ?? context.lease, observed: outcome.observed, lastError: null };
    }),
    recordError: assign((_, error: string) => ({ lastError: error })),
    countTransition: assign(({ context }) => ({ transitions: context.transitions + 1 })),
    startLeading: ({ context }) => context.onStartedLeading(),
    stopLeading: ({ context }) => context.onStoppedLeading(),
  },
}).createMachine({
  id: "leader-election",
  context: ({ input }) => ({
    ...DEFAULT_LEADER_ELECTION_TIMINGS,
    ...Object.fromEntries(
      Object.entries({
        leaseDurationMs: input.leaseDurationMs,
        renewDeadlineMs: input.renewDeadlineMs,
        renewIntervalMs: input.renewIntervalMs,
        retryPeriodMs: input.retryPeriodMs,
      }).filter(([, v]) => v !== undefined),
    ),
    api: input.api,
    clock: input.clock,
    namespace: input.namespace,
    leaseName: input.leaseName,
    identity: input.identity,
    onStartedLeading: input.onStartedLeading ?? (() => {}),
    onStoppedLeading: input.onStoppedLeading ?? (() => {}),
    observed: null,
    lease: null,
    renewedAtMs: 0,
    transitions: 0,
    lastError: null,
  }),
  initial: "candidate",
  states: {
    follower: {
      after: { retryPeriod: { target: "candidate" } },
      on: { "election.stop": { target: "released" } },
    },
    candidate: {
      invoke: {
        src: "tryAcquireOrRenew",
        input: ({ context }) => ({ context, renewing: false }),
        onDone: [
          {
            guard: { type: "isAcquiredInTime", params: ({ event }) => event.output },
            target: "leader",
            actions: [
              { type: "recordLease", params: ({ event }) => event.output },
              "countTransition",
            ],
          },
          {
            guard: { type: "isAcquired", params: ({ event }) => event.output },
            target: "candidate",
            reenter: true,
            actions: { type: "recordLease", params: ({ event }) => event.output },
          },
          {
            target: "follower",
            actions: { type: "recordLease", params: ({ event }) => event.output },
          },
        ],
        onError: {
          target: "follower",
          actions: { type: "recordError", params: ({ event }) => String(event.error) },
        },
      },
      on: { "election.stop": { target: "released" } },
    },
    leader: {
      entry: "startLeading",
      exit: "stopLeading",
      initial: "holding",
      on: { "election.stop": { target: "releasing" } },
      states: {
        holding: {
          after: {
            renewInterval: { target: "renewing" },
            renewDeadline: { target: "#leader-election.follower" },
          },
        },
        renewing: {
          invoke: {
            src: "tryAcquireOrRenew",
            input: ({ context }) => ({ context, renewing: true }),
            onDone: [
              {
                guard: { type: "isAcquired", params: ({ event }) => event.output },
                target: "holding",
                actions: { type: "recordLease", params: ({ event }) => event.output },
              },
              {
                target: "#leader-election.follower",
                actions: { type: "recordLease", params: ({ event }) => event.output },
              },
            ],
            onError: [
              {
                guard: "isRenewDeadlinePassed",
                target: "#leader-election.follower",
                actions: { type: "recordError", params: ({ event }) => String(event.error) },
              },
              {
                target: "holding",
                actions: { type: "recordError", params: ({ event }) => String(event.error) },
              },
            ],
          },
          after: { renewDeadline: { target: "#leader-election.follower" } },
        },
      },
    },
    releasing: {
      invoke: {
        src: "releaseLease",
        input: ({ context }) => ({ context }),
        onDone: { target: "released" },
        onError: {
          target: "released",
          actions: { type: "recordError", params: ({ event }) => String(event.error) },
        },
      },
    },
    released: { type: "final" },
  },
});
