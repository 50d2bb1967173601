/**
 * Txn compares (etcd's applyCompare / compareKV): a compare holds when it holds for every key
 * in its range. A range without keys compares one empty key/value (version, revisions and
 * lease 0), except that a value compare then fails.
 */
import type { Compare } from "./commands.ts";

export interface ComparedKv {
  value: Buffer | undefined;
  version: number;
  createRevision: number;
  modRevision: number;
  lease: number;
}

export function compareHolds(compare: Compare, kvs: readonly ComparedKv[]): boolean {
  if (kvs.length === 0) {
    if (compare.target === "value") return false;
    return compareOne(compare, {
      value: undefined,
      version: 0,
      createRevision: 0,
      modRevision: 0,
      lease: 0,
    });
  }
  return kvs.every((kv) => compareOne(compare, kv));
}

function compareOne(compare: Compare, kv: ComparedKv): boolean {
  let order: number;
  if (compare.target === "value") {
    order = Buffer.compare(kv.value ?? Buffer.alloc(0), Buffer.from(compare.value));
  } else {
    const actual = kv[compare.target];
    order = actual < compare.operand ? -1 : actual > compare.operand ? 1 : 0;
  }
  switch (compare.result) {
    case "=":
      return order === 0;
    case "!=":
      return order !== 0;
    case "<":
      return order < 0;
    case ">":
      return order > 0;
  }
}
