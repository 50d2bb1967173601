/**
 * Random command sequences for the MVCC property tests and the reference model they are
 * checked against: a plain array holding the whole key space at every revision.
 */
import fc from "fast-check";
import type { MvccCommand } from "../../../raft/mvcc/commands.ts";

const KEYS = ["a", "ab", "b", "ba", "c", "d"];
const b = (s: string): Buffer => Buffer.from(s);

const key = fc.constantFrom(...KEYS);
const value = fc.string({ maxLength: 3 });

export type Step =
  | { t: "put"; key: string; value: string }
  | { t: "del"; key: string; end?: string }
  | { t: "cas"; key: string; mod: number; value: string; elseDelete: string }
  | { t: "compact"; back: number };

export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant("put" as const), key, value }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({ t: fc.constant("del" as const), key }),
      fc.record({ t: fc.constant("del" as const), key, end: fc.constantFrom("b", "c", "z", "\0") }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("cas" as const),
      key,
      mod: fc.nat(12),
      value,
      elseDelete: key,
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("compact" as const), back: fc.nat(4) }) },
);

export function toCommand(s: Step, currentRevision: number): MvccCommand {
  switch (s.t) {
    case "put":
      return { op: "put", key: b(s.key), value: b(s.value) };
    case "del":
      return {
        op: "deleteRange",
        key: b(s.key),
        ...(s.end !== undefined ? { rangeEnd: b(s.end) } : {}),
      };
    case "cas":
      return {
        op: "txn",
        compare: [{ target: "modRevision", key: b(s.key), result: "=", operand: s.mod }],
        success: [{ op: "put", key: b(s.key), value: b(s.value) }],
        failure: [{ op: "deleteRange", key: b(s.elseDelete) }],
      };
    case "compact":
      return { op: "compact", revision: Math.max(1, currentRevision - s.back) };
  }
}

export interface ModelKv {
  value: string;
  create: number;
  mod: number;
  version: number;
}

/** The reference: revisions[r] is the whole key space at revision r (revision 1 = empty). */
export class Model {
  readonly revisions: Map<string, ModelKv>[] = [new Map(), new Map()];
  compacted = 0;

  get current(): number {
    return this.revisions.length - 1;
  }

  apply(s: Step): void {
    const next = new Map(this.revisions[this.current]!);
    const rev = this.current + 1;
    let changed = false;
    const put = (k: string, v: string) => {
      const prev = next.get(k);
      next.set(k, {
        value: v,
        create: prev ? prev.create : rev,
        mod: rev,
        version: prev ? prev.version + 1 : 1,
      });
      changed = true;
    };
    const del = (k: string, end?: string) => {
      for (const key of [...next.keys()]) {
        const inRange = end === undefined ? key === k : key >= k && (end === "\0" || key < end);
        if (inRange) {
          next.delete(key);
          changed = true;
        }
      }
    };
    switch (s.t) {
      case "put":
        put(s.key, s.value);
        break;
      case "del":
        del(s.key, s.end);
        break;
      case "cas":
        if ((next.get(s.key)?.mod ?? 0) === s.mod) put(s.key, s.value);
        else del(s.elseDelete);
        break;
      case "compact": {
        const r = Math.max(1, this.current - s.back);
        if (r > this.compacted) this.compacted = r;
        break;
      }
    }
    if (changed) this.revisions.push(next);
  }
}
