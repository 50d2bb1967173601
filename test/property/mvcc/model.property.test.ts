/**
 * The store against a reference model: after every command of a random sequence of puts,
 * deletes, compare-and-swap txns and compactions, every range at every uncompacted revision
 * equals the model's key space at that revision, and older revisions are compacted errors.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import { MvccStore } from "../../../raft/mvcc/store.ts";
import { Model, step, toCommand } from "./commands.ts";

const ALL = { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) };

describe("MVCC store equals the reference model", () => {
  it("every range at every revision, after every command", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const store = await MvccStore.open(new MemoryBackend());
        const model = new Model();
        let index = 0;
        for (const s of steps) {
          await store.apply(++index, { command: toCommand(s, store.currentRevision) });
          model.apply(s);
          expect(store.currentRevision).toBe(model.current);
          for (let rev = 1; rev <= model.current; rev++) {
            const got = await store.range({ ...ALL, revision: rev });
            if (rev < model.compacted) {
              expect(got).toMatchObject({
                kind: "error",
                error: "compacted",
                compactRevision: model.compacted,
              });
              continue;
            }
            if (got.kind !== "range") throw new Error(`range at ${rev}: ${got.error}`);
            const want = [...model.revisions[rev]!].sort(([a], [b]) => (a < b ? -1 : 1));
            expect(got.count).toBe(want.length);
            expect(
              got.kvs.map((kv) => [
                kv.key.toString(),
                kv.value.toString(),
                kv.createRevision,
                kv.modRevision,
                kv.version,
              ]),
            ).toEqual(want.map(([k, m]) => [k, m.value, m.create, m.mod, m.version]));
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
