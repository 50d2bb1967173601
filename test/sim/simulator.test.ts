import { describe, expect, it } from "vitest";
import type { Ready } from "../../raft/core/ready.ts";
import {
  coreNodeFactory,
  type NodeFactory,
  type SimRaftNode,
} from "../../raft/sim/node-factory.ts";
import { SimRandom } from "../../raft/sim/random.ts";
import { formatFailure, runSeed } from "../../raft/sim/simulator.ts";

/** A node that forwards everything to `inner` except what `overrides` replaces. */
function delegate(inner: SimRaftNode, overrides: Partial<SimRaftNode>): SimRaftNode {
  return {
    tick: () => inner.tick(),
    step: (m) => inner.step(m),
    propose: (d) => inner.propose(d),
    proposeConfChange: (cc) => inner.proposeConfChange(cc),
    readIndex: (ctx) => inner.readIndex(ctx),
    transferLeader: (to) => inner.transferLeader(to),
    hasReady: () => inner.hasReady(),
    ready: () => inner.ready(),
    advance: () => inner.advance(),
    applyConfChange: (cc) => inner.applyConfChange(cc),
    reportSnapshot: (id, ok) => inner.reportSnapshot(id, ok),
    ...overrides,
  };
}

describe("the simulator itself", () => {
  it("SimRandom is a pure function of its seed", () => {
    const a = new SimRandom(42);
    const b = new SimRandom(42);
    const c = new SimRandom(43);
    const xs = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xs);
    for (let i = 0; i < 1000; i++) {
      const n = a.int(7);
      expect(n >= 0 && n < 7 && Number.isInteger(n)).toBe(true);
    }
  });

  it("the same seed gives the identical trace twice", () => {
    for (const nodes of [3, 5]) {
      const first = runSeed({ seed: 7, nodes });
      const second = runSeed({ seed: 7, nodes });
      expect(first.ok).toBe(true);
      expect(second.traceHash).toBe(first.traceHash);
      expect(second.stats).toEqual(first.stats);
    }
    expect(runSeed({ seed: 8, nodes: 3 }).traceHash).not.toBe(
      runSeed({ seed: 7, nodes: 3 }).traceHash,
    );
  });

  it("runs make progress under faults: writes acknowledged, reads served, faults injected", () => {
    let writes = 0;
    let reads = 0;
    let faults = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = runSeed({ seed, nodes: seed % 2 === 0 ? 5 : 3 });
      if (!r.ok) expect.fail(formatFailure(r));
      expect(r.stats.convergedAfterMs).not.toBeNull();
      writes += r.stats.writesAcknowledged;
      reads += r.stats.readsCompleted;
      faults += r.stats.crashes + r.stats.partitions;
    }
    expect(writes).toBeGreaterThan(100);
    expect(reads).toBeGreaterThan(30);
    expect(faults).toBeGreaterThan(6);
  });

  it("catches a planted fault: a node that acknowledges appends and votes before persisting", () => {
    // Acks and votes travel before the disk sync; a crash in the window forgets what was
    // promised. Slow disks and frequent crashes make the window common.
    const acksBeforePersist: NodeFactory = (params) => {
      const inner = coreNodeFactory(params);
      return delegate(inner, {
        ready: (): Ready => {
          const rd = inner.ready();
          return {
            ...rd,
            messages: [...rd.messages, ...rd.messagesAfterPersist],
            messagesAfterPersist: [],
          };
        },
      });
    };
    const faults = {
      lossRate: 0.02,
      duplicateRate: 0.01,
      crashPerStep: 0.006,
      partitionPerStep: 0.001,
      pausePerStep: 0,
      slowDiskPerStep: 0.004,
      transferLeaderPerStep: 0.001,
      membershipPerStep: 0,
      diskHiccupRate: 0.3,
      newLeaderCrashRate: 0.1,
    };
    let caught: string | null = null;
    let seeds = 0;
    for (let seed = 1; seed <= 200 && caught === null; seed++) {
      seeds++;
      const r = runSeed(
        { seed, nodes: 3, faults, membershipChanges: false, slowDiskSyncMs: [20, 200] },
        acksBeforePersist,
      );
      if (!r.ok) caught = formatFailure(r);
    }
    expect(caught, `not caught in ${seeds} seeds`).not.toBeNull();
    expect(caught).toMatch(/replay: npm run sim -- --seed \d+ --nodes 3 --steps \d+/);
  });

  it("a failure report carries the replay command and a bounded trace", () => {
    let ticks = 0; // across every node and incarnation
    const broken: NodeFactory = (params) => {
      const inner = coreNodeFactory(params);
      return delegate(inner, {
        tick: () => {
          if (++ticks === 150) throw new Error("planted crash of the node under test");
          inner.tick();
        },
      });
    };
    const r = runSeed({ seed: 5, nodes: 3 }, broken);
    expect(r.ok).toBe(false);
    expect(r.failure!.replay).toBe("npm run sim -- --seed 5 --nodes 3 --steps 3000");
    expect(r.failure!.trace.length).toBeLessThanOrEqual(200);
    expect(formatFailure(r)).toContain("planted crash");
  });
});
