/**
 * Property: any sequence of append / hard state / createSnapshot / compact / applySnapshot,
 * interleaved with close-and-reopen at random points, leaves RocksLogStorage in the same
 * observable state as MemoryStorage (the model), and both refuse the same operations with the
 * same error class.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConfState, Entry, HardState } from "../../../raft/core/messages.ts";
import { MemoryStorage } from "../../../raft/storage/memory.ts";
import type { Storage } from "../../../raft/storage/storage.ts";
import { rocksSubject, type StorageSubject } from "./subjects.ts";

const cs: ConfState = {
  voters: ["n1", "n2"],
  learners: [],
  votersOutgoing: [],
  learnersNext: [],
  autoLeave: false,
};

/** An op as offsets relative to the current state, so most ops are meaningful (some invalid). */
type Op =
  | { kind: "append"; from: number; count: number; bumps: number[]; size: number }
  | { kind: "hardState"; termBump: number; vote: string | null; commitFrac: number }
  | { kind: "createSnapshot"; at: "stale" | "committed" | "beyond"; frac: number; data: number[] }
  | { kind: "compact"; at: number }
  | { kind: "applySnapshot"; ahead: number; termBump: number; stale: boolean }
  | { kind: "reopen" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      from: fc.integer({ min: -3, max: 2 }),
      count: fc.integer({ min: 0, max: 6 }),
      bumps: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 6, maxLength: 6 }),
      size: fc.integer({ min: 0, max: 40 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("hardState" as const),
      termBump: fc.integer({ min: 0, max: 1 }),
      vote: fc.constantFrom(null, "n1", "n2"),
      commitFrac: fc.integer({ min: 0, max: 100 }).map((n) => n / 100),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("createSnapshot" as const),
      at: fc.constantFrom(
        "stale" as const,
        "committed" as const,
        "committed" as const,
        "beyond" as const,
      ),
      frac: fc.integer({ min: 0, max: 100 }).map((n) => n / 100),
      data: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("compact" as const),
      at: fc.integer({ min: -1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("applySnapshot" as const),
      ahead: fc.integer({ min: 0, max: 4 }),
      termBump: fc.integer({ min: 0, max: 2 }),
      stale: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

function observe(st: Storage) {
  const first = st.firstIndex();
  const last = st.lastIndex();
  const terms: number[] = [];
  for (let i = first - 1; i <= last; i++) terms.push(st.term(i));
  return {
    first,
    last,
    terms,
    entries: st.entries(first, last + 1, Infinity),
    initial: st.initialState(),
    snapshot: st.snapshot(),
  };
}

async function outcome(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
    return "ok";
  } catch (error) {
    return (error as Error).name;
  }
}

describe("RocksLogStorage against the MemoryStorage model", () => {
  it("gives the same observable state and errors after any op sequence (with reopens)", async () => {
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 8, maxLength: 40 }), async (ops) => {
        const model = new MemoryStorage(cs);
        let hard: HardState = { term: 0, vote: null, commit: 0 };
        const real: StorageSubject = await rocksSubject.create(cs);
        try {
          for (const op of ops) {
            const first = model.firstIndex();
            const last = model.lastIndex();
            const termAt = (i: number) => model.term(Math.min(Math.max(i, first - 1), last));
            let nextHard: HardState | undefined;
            let run: (s: {
              append(e: Entry[]): Promise<unknown> | unknown;
              setHardState(h: HardState): Promise<unknown> | unknown;
              createSnapshot(i: number, c: ConfState, d: Uint8Array): Promise<unknown> | unknown;
              compact(i: number): Promise<unknown> | unknown;
              applySnapshot(
                s: import("../../../raft/core/messages.ts").Snapshot,
              ): Promise<unknown> | unknown;
            }) => Promise<unknown> | unknown;
            switch (op.kind) {
              case "append": {
                // Never below commit + 1 (Raft never truncates committed entries).
                const from = Math.max(1, hard.commit + 1, last + 1 + op.from);
                let term = Math.max(termAt(from - 1), hard.term);
                const entries: Entry[] = [];
                for (let i = 0; i < op.count; i++) {
                  term += op.bumps[i]!;
                  entries.push({
                    index: from + i,
                    term,
                    type: i % 3 === 2 ? "confChange" : "normal",
                    data: new Uint8Array(op.size).fill(from + i),
                  });
                }
                // Keep commit within the log: a shorter tail than commit would be refused.
                if (entries.length > 0 && from + entries.length - 1 < hard.commit) continue;
                run = (s) => s.append(entries);
                break;
              }
              case "hardState": {
                const commit = hard.commit + Math.floor(op.commitFrac * (last - hard.commit));
                const next = { term: hard.term + op.termBump, vote: op.vote, commit };
                run = (s) => s.setHardState(next);
                nextHard = next;
                break;
              }
              case "createSnapshot": {
                // A host snapshots only applied (so committed) entries, which never change.
                const current = model.snapshot().metadata.index;
                const at =
                  op.at === "stale"
                    ? current
                    : op.at === "beyond"
                      ? last + 1
                      : current + 1 + Math.floor(op.frac * (hard.commit - current));
                if (at > hard.commit && at <= last) continue;
                const data = new Uint8Array(op.data);
                run = (s) => s.createSnapshot(at, cs, data);
                break;
              }
              case "compact": {
                const at = first - 1 + op.at;
                run = (s) => s.compact(at);
                break;
              }
              case "applySnapshot": {
                const current = model.snapshot().metadata.index;
                const index =
                  op.stale && current > 0
                    ? current - 1
                    : Math.max(current, hard.commit, last) + op.ahead;
                const snap = {
                  metadata: {
                    index,
                    term: Math.max(termAt(last), hard.term) + op.termBump,
                    confState: { ...cs, learners: [`l${index}`] },
                  },
                  data: new Uint8Array([index & 0xff]),
                };
                // As in a Ready: the hard state that comes with a snapshot commits up to it.
                const next = {
                  ...hard,
                  term: Math.max(hard.term, snap.metadata.term),
                  commit: index,
                };
                run = async (s) => {
                  await s.applySnapshot(snap);
                  await s.setHardState(next);
                };
                nextHard = next;
                break;
              }
              case "reopen":
                await real.reopen();
                expect(observe(real.storage)).toEqual(observe(model));
                continue;
            }
            const expected = await outcome(async () => {
              await run(model);
            });
            const actual = await outcome(async () => {
              await run(real);
            });
            if (expected === "ok" && nextHard) hard = nextHard;
            outcomes.set(
              `${op.kind}:${expected}`,
              (outcomes.get(`${op.kind}:${expected}`) ?? 0) + 1,
            );
            expect(actual, JSON.stringify(op)).toBe(expected);
            expect(observe(real.storage)).toEqual(observe(model));
          }
          await real.reopen();
          expect(observe(real.storage)).toEqual(observe(model));
        } finally {
          await real.dispose();
        }
      }),
      { numRuns: 60 },
    );
    // The generator reaches the success path of every op, not only its errors.
    if (process.env.BOSUN_STORAGE_PROPERTY_STATS) console.log(Object.fromEntries(outcomes));
    for (const kind of ["append", "hardState", "createSnapshot", "compact", "applySnapshot"]) {
      expect(outcomes.get(`${kind}:ok`) ?? 0, kind).toBeGreaterThan(0);
    }
    if (process.env.BOSUN_STORAGE_PROPERTY_STATS) console.log(Object.fromEntries(outcomes));
  }, 180_000);
});
