/**
 * The compactor under a ManualClock against a fake store that models the one coordination key,
 * the revision and the compacted revision, as kube-apiserver's etcd3 compactor specifies it:
 * the first claim only records a revision, every later winning claim compacts to the revision
 * recorded one interval earlier, one server wins per interval, and failures wait for the next.
 */
import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import {
  COMPACT_REV_KEY,
  type CompactorStore,
  compactorMachine,
} from "../../../actors/apiserver/compactor.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { parseDurationMs } from "../../../cmd/node/duration-flag.ts";
import type { MvccCommand } from "../../../raft/mvcc/commands.ts";
import type { CommandResponse, KeyValue } from "../../../raft/mvcc/responses.ts";

const INTERVAL_MS = 1_000;
const dec = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** Lets the fake store's promises and xstate's reactions run. */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** One interval of simulated time, then whatever the timers set off. */
async function nextInterval(clock: ManualClock): Promise<void> {
  clock.advance(INTERVAL_MS);
  await settle();
}

/** An MVCC store reduced to what the compactor touches; writes elsewhere just bump revisions. */
class FakeStore {
  revision = 1;
  compactRevision = 0;
  key: KeyValue | null = null;
  readonly compactions: number[] = [];
  /** The next writes of this op throw, as a store client with no leader does. */
  failNext: { op: MvccCommand["op"]; times: number } | null = null;
  /** Writes never answer (a stuck store). */
  hang = false;

  client(): CompactorStore {
    return { write: (command) => this.write(command) };
  }

  /** Other clients' traffic. */
  traffic(writes: number): void {
    this.revision += writes;
  }

  private async write(command: MvccCommand): Promise<CommandResponse> {
    await Promise.resolve();
    if (this.hang) return new Promise(() => undefined);
    if (this.failNext?.op === command.op && this.failNext.times > 0) {
      this.failNext.times--;
      throw new Error("store unavailable: write failed 20 times (last: no leader)");
    }
    if (command.op === "compact") {
      if (command.revision <= this.compactRevision)
        return this.error({ error: "compacted", compactRevision: this.compactRevision });
      this.compactRevision = command.revision;
      this.compactions.push(command.revision);
      return { kind: "compact", header: { revision: this.revision } };
    }
    if (command.op !== "txn") throw new Error(`unexpected ${command.op}`);
    const [compare] = command.compare;
    const [put] = command.success;
    if (compare?.target !== "version" || dec(compare.key) !== COMPACT_REV_KEY || put?.op !== "put")
      throw new Error("unexpected claim shape");
    if ((this.key?.version ?? 0) === compare.operand) {
      this.revision++;
      this.key = {
        key: Buffer.from(put.key),
        value: Buffer.from(put.value),
        createRevision: this.key?.createRevision ?? this.revision,
        modRevision: this.revision,
        version: (this.key?.version ?? 0) + 1,
        lease: 0,
      };
      return {
        kind: "txn",
        header: { revision: this.revision },
        succeeded: true,
        responses: [{ kind: "put", header: { revision: this.revision } }],
      };
    }
    const kvs = this.key ? [this.key] : [];
    return {
      kind: "txn",
      header: { revision: this.revision },
      succeeded: false,
      responses: [
        { kind: "range", header: { revision: this.revision }, kvs, more: false, count: kvs.length },
      ],
    };
  }

  private error(e: { error: "compacted"; compactRevision: number }): CommandResponse {
    return { kind: "error", header: { revision: this.revision }, ...e };
  }
}

function compactor(clock: ManualClock, store: FakeStore, roundTimeoutMs = 10_000) {
  const actor = createActor(compactorMachine, {
    clock,
    input: { store: () => store.client(), limits: { intervalMs: INTERVAL_MS, roundTimeoutMs } },
  }).start();
  return {
    actor,
    state: () => String(actor.getSnapshot().value),
    context: () => actor.getSnapshot().context,
  };
}

describe("compactor statechart", () => {
  it("has the states waiting, claiming, compacting, stopped", () => {
    expect(Object.keys(compactorMachine.config.states ?? {})).toEqual([
      "waiting",
      "claiming",
      "compacting",
      "stopped",
    ]);
  });

  it("the first interval records a revision; the second compacts to it, the third to the second's", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const c = compactor(clock, store);
    store.traffic(10);
    clock.advance(INTERVAL_MS - 1);
    await settle();
    expect(store.key).toBeNull(); // nothing before a full interval

    await nextInterval(clock);
    const first = store.revision; // the claim's own put
    expect(store.key?.version).toBe(1);
    expect(store.compactions).toEqual([]); // Kubernetes never compacts on its first claim
    expect(c.state()).toBe("waiting");

    store.traffic(25);
    await nextInterval(clock);
    expect(store.compactions).toEqual([first]);
    const second = store.key?.modRevision;
    // the claim records what it compacts to, for a human reading the store
    expect(dec(store.key?.value ?? Buffer.alloc(0))).toBe(String(first));

    store.traffic(5);
    await nextInterval(clock);
    expect(store.compactions).toEqual([first, second]);
    expect(c.context().compactions).toBe(2);
    expect(c.state()).toBe("waiting");
  });

  it("two compactors sharing one store: exactly one compacts per interval", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const servers = [compactor(clock, store), compactor(clock, store)];
    const perInterval: number[] = [];
    const revisionAtInterval: number[] = [];
    for (let i = 0; i < 6; i++) {
      store.traffic(7);
      const before = store.compactions.length;
      await nextInterval(clock);
      perInterval.push(store.compactions.length - before);
      revisionAtInterval.push(store.revision);
    }
    expect(perInterval).toEqual([0, 1, 1, 1, 1, 1]);
    // each compaction keeps at least one interval: its target predates the previous interval's end
    store.compactions.forEach((target, i) => {
      expect(target).toBeLessThanOrEqual(revisionAtInterval[i] as number);
    });
    expect(store.key?.version).toBe(6);
    expect(servers.every((s) => s.state() === "waiting")).toBe(true);
  });

  it("a failing compaction is logged and retried next interval, never fatal", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const c = compactor(clock, store);
    await nextInterval(clock);
    store.traffic(3);
    store.failNext = { op: "compact", times: 1 };
    await nextInterval(clock);
    expect(store.compactions).toEqual([]);
    expect(c.state()).toBe("waiting");
    expect(c.context().lastError).toContain("no leader");
    const recorded = store.key?.modRevision;

    store.traffic(3);
    await nextInterval(clock);
    expect(store.compactions).toEqual([recorded]);
    expect(c.context().lastError).toBeNull();
  });

  it("a failing claim keeps what was known; the next interval claims again", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const c = compactor(clock, store);
    await nextInterval(clock);
    const recorded = store.revision;
    store.failNext = { op: "txn", times: 1 };
    await nextInterval(clock);
    expect(c.state()).toBe("waiting");
    expect(c.context().lastError).toContain("store unavailable");
    await nextInterval(clock);
    expect(store.compactions).toEqual([recorded]);
  });

  it("a revision compacted already (by hand) is an error for this interval only", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const c = compactor(clock, store);
    await nextInterval(clock);
    store.traffic(50);
    store.compactRevision = store.revision - 1; // an operator compacted further
    await nextInterval(clock);
    expect(c.context().lastError).toContain("compacted");
    store.traffic(50);
    await nextInterval(clock);
    expect(c.context().lastError).toBeNull();
    expect(store.compactions).toHaveLength(1);
  });

  it("a store that never answers is abandoned after roundTimeoutMs", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const c = compactor(clock, store, 300);
    store.hang = true;
    await nextInterval(clock);
    expect(c.state()).toBe("claiming");
    clock.advance(300);
    await settle();
    expect(c.state()).toBe("waiting");
    expect(c.context().lastError).toBe("claim timed out");
    store.hang = false;
    await nextInterval(clock);
    expect(store.key?.version).toBe(1);
  });

  it("stopped: no more claims", async () => {
    const clock = new ManualClock();
    const store = new FakeStore();
    const c = compactor(clock, store);
    c.actor.send({ type: "compactor.stop" });
    expect(c.state()).toBe("stopped");
    await nextInterval(clock);
    await nextInterval(clock);
    expect(store.key).toBeNull();
    expect(clock.pending()).toBe(0);
  });
});

describe("--compaction-interval", () => {
  it("takes Go durations as kube-apiserver does, or milliseconds", () => {
    expect(parseDurationMs("5m", "--x")).toBe(300_000);
    expect(parseDurationMs("1h30m", "--x")).toBe(5_400_000);
    expect(parseDurationMs("1.5s", "--x")).toBe(1_500);
    expect(parseDurationMs("250ms", "--x")).toBe(250);
    expect(parseDurationMs("2000", "--x")).toBe(2_000);
    expect(parseDurationMs("0", "--x")).toBe(0);
  });

  it("refuses what is not a duration, and absurd ones", () => {
    for (const bad of ["", "m", "5 m", "5d", "-1s", "5mm", "9999h"]) {
      expect(() => parseDurationMs(bad, "--x"), bad).toThrow(/--x/);
    }
  });
});
