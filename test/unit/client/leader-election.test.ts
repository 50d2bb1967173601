/**
 * Lease leader election under a ManualClock against the in-memory API: one leader at a time;
 * a dead leader is replaced once its lease has expired (as its rivals saw it); a released lease
 * is taken at once; a 409 on the lease means another candidate won the race.
 */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { conflictStatus } from "../../../actors/api/status.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import {
  checkLeaderElectionTimings,
  DEFAULT_LEADER_ELECTION_TIMINGS,
  LEASES,
  leaderElectionMachine,
} from "../../../actors/client/leader-election.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi, settle } from "../controllers/fake-api.ts";

function candidate(api: FakeApi, clock: ManualClock, identity: string) {
  const log: string[] = [];
  const actor = createActor(leaderElectionMachine, {
    clock,
    input: {
      api,
      clock,
      namespace: "kube-system",
      leaseName: "kcm",
      identity,
      onStartedLeading: () => log.push("started"),
      onStoppedLeading: () => log.push("stopped"),
    },
  }).start();
  const state = () => JSON.stringify(actor.getSnapshot().value);
  return { actor, log, state, isLeader: () => state().includes("leader") };
}

/** Advances time in small steps, letting API promises resolve in between. */
async function run(clock: ManualClock, ms: number, stepMs = 10) {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await settle();
  }
}

const holder = async (api: FakeApi) =>
  (await api.get(LEASES, "kcm", { namespace: "kube-system" })).spec as Record<string, unknown>;

describe("leader election", () => {
  it("has the states follower, candidate, leader (holding/renewing), releasing, released", () => {
    expect(Object.keys(leaderElectionMachine.config.states ?? {})).toEqual([
      "follower",
      "candidate",
      "leader",
      "releasing",
      "released",
    ]);
  });

  it("the first candidate creates the Lease and leads; the second follows", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const a = candidate(api, clock, "a");
    await settle();
    const b = candidate(api, clock, "b");
    await run(clock, 1_000);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    const spec = await holder(api);
    expect(spec.holderIdentity).toBe("a");
    expect(spec.leaseDurationSeconds).toBe(1);
    expect(String(spec.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(spec.renewTime).not.toBe(spec.acquireTime); // renewed every 200 ms
  });

  it("the leader dies: the other takes over only after the lease expires", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const a = candidate(api, clock, "a");
    await settle();
    const b = candidate(api, clock, "b");
    await run(clock, 500);
    a.actor.stop(); // a crash: no release
    const diedAt = clock.nowMs();
    await run(clock, 600);
    expect(b.isLeader()).toBe(false); // the lease (800 ms) has not run out yet
    await run(clock, 600);
    expect(b.isLeader()).toBe(true);
    expect(clock.nowMs() - diedAt).toBeLessThanOrEqual(1_200);
    const spec = await holder(api);
    expect(spec.holderIdentity).toBe("b");
    expect(spec.leaseTransitions).toBe(1);
  });

  it("stop releases the lease: the other takes over at its next retry", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const a = candidate(api, clock, "a");
    await settle();
    const b = candidate(api, clock, "b");
    await run(clock, 500);
    a.actor.send({ type: "election.stop" });
    await settle();
    expect(a.actor.getSnapshot().value).toBe("released");
    expect(a.log).toEqual(["started", "stopped"]);
    expect((await holder(api)).holderIdentity).toBe("");
    await run(clock, 110);
    expect(b.isLeader()).toBe(true);
  });

  it("a 409 on the acquiring update means another candidate won: follow", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const a = candidate(api, clock, "a");
    await settle();
    a.actor.send({ type: "election.stop" }); // released: holder ""
    await settle();
    api.failNext.update = new ApiError(conflictStatus({ group: "", resource: "leases" }, "kcm"));
    const b = candidate(api, clock, "b");
    await settle();
    expect(b.state()).toBe('"follower"');
    await run(clock, 110);
    expect(b.isLeader()).toBe(true);
  });

  it("a leader that cannot renew before its deadline steps down", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const a = candidate(api, clock, "a");
    await run(clock, 100);
    expect(a.isLeader()).toBe(true);
    // another writer takes the lease from under it (a split brain the 409 must end)
    const lease = await api.get(LEASES, "kcm", { namespace: "kube-system" });
    await api.update(LEASES, {
      ...lease,
      spec: { ...(lease.spec as object), holderIdentity: "z" },
    });
    await run(clock, 300);
    expect(a.isLeader()).toBe(false);
    expect(a.log).toEqual(["started", "stopped"]);
  });

  it("an acquisition slower than the renew deadline is not led on: renewed at once instead", async () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    // the first write (the create) takes 900 ms of clock time: past the 700 ms renew deadline
    let slow = true;
    const create = api.create.bind(api);
    api.create = async (...args: Parameters<FakeApi["create"]>) => {
      if (slow) {
        slow = false;
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 900));
      }
      return create(...args);
    };
    const a = candidate(api, clock, "a");
    await run(clock, 1_200);
    // acquired too late to lead on: renewed at once, then led — never started only to stop
    expect(a.isLeader()).toBe(true);
    expect(a.log).toEqual(["started"]);
  });
});

describe("leader election timings (the --leader-elect-* flags)", () => {
  it("accepts bosun's defaults and Kubernetes' (15 s / 10 s / 2 s)", () => {
    expect(() => checkLeaderElectionTimings(DEFAULT_LEADER_ELECTION_TIMINGS)).not.toThrow();
    const kube = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      renewIntervalMs: 2_000,
      retryPeriodMs: 2_000,
    };
    expect(() => checkLeaderElectionTimings(kube)).not.toThrow();
  });

  it("refuses a leader that could still lead after the others may take over", () => {
    const t = DEFAULT_LEADER_ELECTION_TIMINGS;
    expect(() => checkLeaderElectionTimings({ ...t, renewDeadlineMs: t.leaseDurationMs })).toThrow(
      /renew deadline must be shorter than the lease duration/,
    );
    expect(() => checkLeaderElectionTimings({ ...t, renewIntervalMs: t.renewDeadlineMs })).toThrow(
      /retry period must be shorter than the renew deadline/,
    );
    expect(() => checkLeaderElectionTimings({ ...t, retryPeriodMs: 0 })).toThrow(/> 0/);
  });
});
