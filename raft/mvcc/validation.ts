/**
 * Checks a command before it touches any state (etcd's gRPC-layer checks: sizes, op counts,
 * duplicate keys in a txn branch). Commands arrive from the log, decoded from bytes a client
 * chose, so their shape is checked too: a malformed command is an "invalid request" result on
 * every replica alike, never an exception.
 */
import type { MvccCommand, TxnOp } from "./commands.ts";
import { intervalsOverlap, keyInterval } from "./key-range.ts";
import type { MvccLimits } from "./limits.ts";
import type { MvccError } from "./responses.ts";

const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
const isOptBytes = (x: unknown): boolean => x === undefined || isBytes(x);
const isCount = (x: unknown): x is number =>
  typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
const isOptCount = (x: unknown): boolean => x === undefined || isCount(x);
const isTime = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

function invalid(detail: string): MvccError {
  return { error: "invalid request", detail };
}

function checkKey(key: unknown, limits: MvccLimits): MvccError | undefined {
  if (!isBytes(key)) return invalid("key is not bytes");
  if (key.byteLength === 0) return { error: "empty key" };
  if (key.byteLength > limits.maxKeyBytes)
    return { error: "key too large", maxKeyBytes: limits.maxKeyBytes };
  return undefined;
}

function checkOp(op: TxnOp, limits: MvccLimits): MvccError | undefined {
  if (typeof op !== "object" || op === null) return invalid("op is not an object");
  switch (op.op) {
    case "put": {
      const bad = checkKey(op.key, limits);
      if (bad) return bad;
      if (!isBytes(op.value)) return invalid("value is not bytes");
      if (op.value.byteLength > limits.maxValueBytes) {
        return { error: "value too large", maxValueBytes: limits.maxValueBytes };
      }
      if (!isOptCount(op.lease)) return invalid("lease is not a count");
      if (op.ignoreValue && op.value.byteLength > 0) return { error: "value provided" };
      if (op.ignoreLease && (op.lease ?? 0) !== 0) return { error: "lease provided" };
      return undefined;
    }
    case "deleteRange":
      if (!isOptBytes(op.rangeEnd)) return invalid("rangeEnd is not bytes");
      return checkKey(op.key, limits);
    case "range":
      if (!isOptBytes(op.rangeEnd)) return invalid("rangeEnd is not bytes");
      if (!isOptCount(op.limit)) return invalid("limit is not a count");
      return checkKey(op.key, limits);
    default:
      return invalid(`unknown txn op ${String((op as { op: unknown }).op)}`);
  }
}

/**
 * etcd's checkIntervals for one branch: no two puts to one key, and no put to a key a delete
 * in the same branch covers.
 */
function checkBranchKeys(ops: readonly TxnOp[]): MvccError | undefined {
  const puts = new Set<string>();
  const deletes = [];
  for (const op of ops) {
    if (op.op === "put") {
      const k = Buffer.from(op.key).toString("latin1");
      if (puts.has(k)) return { error: "duplicate key" };
      puts.add(k);
    } else if (op.op === "deleteRange") {
      deletes.push(keyInterval(op.key, op.rangeEnd));
    }
  }
  for (const k of puts) {
    const put = { start: k, end: undefined, single: true };
    if (deletes.some((d) => intervalsOverlap(d, put))) return { error: "duplicate key" };
  }
  return undefined;
}

export function validateCommand(command: MvccCommand, limits: MvccLimits): MvccError | undefined {
  if (typeof command !== "object" || command === null) return invalid("command is not an object");
  switch (command.op) {
    case "put":
    case "deleteRange":
      return checkOp(command, limits);
    case "txn": {
      const { compare, success, failure } = command;
      if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) {
        return invalid("txn compare/success/failure are not arrays");
      }
      if (
        compare.length > limits.maxTxnOps ||
        success.length > limits.maxTxnOps ||
        failure.length > limits.maxTxnOps
      ) {
        return { error: "too many ops", maxTxnOps: limits.maxTxnOps };
      }
      for (const c of compare) {
        if (typeof c !== "object" || c === null) return invalid("compare is not an object");
        const bad = checkKey(c.key, limits);
        if (bad) return bad;
        if (!isOptBytes(c.rangeEnd)) return invalid("compare rangeEnd is not bytes");
        if (!["=", "!=", "<", ">"].includes(c.result)) return invalid("unknown compare result");
        if (c.target === "value") {
          if (!isBytes(c.value)) return invalid("compare value is not bytes");
        } else if (["version", "createRevision", "modRevision", "lease"].includes(c.target)) {
          if (typeof c.operand !== "number" || !Number.isFinite(c.operand))
            return invalid("compare operand is not a number");
        } else {
          return invalid("unknown compare target");
        }
      }
      for (const branch of [success, failure]) {
        for (const op of branch) {
          const bad = checkOp(op, limits);
          if (bad) return bad;
        }
        const dup = checkBranchKeys(branch);
        if (dup) return dup;
      }
      return undefined;
    }
    case "compact":
      return isCount(command.revision) ? undefined : invalid("revision is not a count");
    case "leaseGrant":
      if (!isCount(command.id) || !isTime(command.nowMs))
        return invalid("lease id or nowMs malformed");
      if (!isCount(command.ttlMs) || command.ttlMs === 0 || command.ttlMs > limits.maxLeaseTtlMs) {
        return { error: "invalid ttl", maxLeaseTtlMs: limits.maxLeaseTtlMs };
      }
      return undefined;
    case "leaseRevoke":
      return isCount(command.id) ? undefined : invalid("lease id malformed");
    case "leaseKeepAlive":
      return isCount(command.id) && isTime(command.nowMs)
        ? undefined
        : invalid("lease id or nowMs malformed");
    case "leaseCheckpoint":
      if (!Array.isArray(command.checkpoints) || !isTime(command.nowMs))
        return invalid("checkpoints malformed");
      for (const c of command.checkpoints) {
        if (!isCount(c?.id) || !isTime(c?.remainingTtlMs)) return invalid("checkpoint malformed");
      }
      return undefined;
    case "leaseExpire":
      if (!Array.isArray(command.ids) || !command.ids.every(isCount) || !isTime(command.nowMs)) {
        return invalid("expire ids or nowMs malformed");
      }
      return undefined;
    case "expireSessions": {
      const pairs: unknown = command.sessions;
      if (!Array.isArray(pairs) || pairs.length > limits.maxSessionsPerExpire)
        return invalid("expire sessions malformed or too many");
      for (const p of pairs as unknown[]) {
        if (!Array.isArray(p) || p.length !== 2 || !isCount(p[0]) || !isCount(p[1]))
          return invalid("expire sessions pair malformed");
      }
      return undefined;
    }
    case "registerSession":
      return isTime(command.nowMs) ? undefined : invalid("nowMs malformed");
    default:
      return invalid(`unknown command ${String((command as { op: unknown }).op)}`);
  }
}
