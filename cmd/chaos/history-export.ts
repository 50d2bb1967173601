/**
 * The exported history of a chaos run (`--history FILE`): every client operation as Jepsen
 * writes it, so checkers outside bosun (Knossos, Porcupine, Elle's register model) can read it,
 * and so `bosun chaos check FILE` can check a file again later or one edited by hand.
 *
 * Each operation becomes two events in time order: an `invoke` when the client called it, and
 * its completion — `ok` (acknowledged), or `info` when the outcome is unknown (an error or a
 * timeout: the write may or may not have happened, Jepsen's indeterminate). bosun's store never
 * answers a definite failure for put/get, so `fail` is in the format for other producers only.
 * An operation's two events share its `process` (the client id); a process has at most one
 * operation open at a time, which is how a reader pairs them.
 *
 * The store's own history of the workload keys (`storeWrites`) rides along, so the lost and
 * duplicated write checks can be run again from the file alone.
 *
 * Pure: data in, data out. The CLI does the file I/O.
 */
import type { ChaosOp, GetOp, PutOp } from "./history.ts";
import {
  analyzeHistory,
  checkLinearizability,
  type HistoryVerdict,
  type StoreWrite,
} from "./history-analysis.ts";
import { FINAL_READ_CLIENT } from "./store-history.ts";

export const HISTORY_FORMAT = "bosun-chaos-history";
export const HISTORY_FORMAT_VERSION = 1;
/** Most events a file may hold: two per operation of the recorder's limit. */
export const MAX_HISTORY_FILE_EVENTS = 4_000_000;

export type EventType = "invoke" | "ok" | "fail" | "info";
/** What the operation does, in Jepsen's words; bosun's workload issues `read` and `write`. */
export type OpFunction = "read" | "write" | "cas" | "delete";

export interface HistoryEvent {
  /** Position in the file, from 0. */
  index: number;
  /** The client (one store session at a time); the final reads after healing (one range read,
   *  so they overlap) take one process each, numbered after the workload's clients. */
  process: number;
  type: EventType;
  f: OpFunction;
  key: string;
  /** write: the value written (on both events); read: null on invoke, the value read on ok
   *  (null when the key was absent). */
  value: string | null;
  /** Monotonic time of the event, ns from an arbitrary origin (the run's `performance.now()`). */
  time: number;
  /** The store revision the write was applied at, on a write's `ok` where the reply said. */
  revision?: number;
  /** Why an `info` or `fail` completion has no answer. */
  error?: string;
}

export interface HistoryFile {
  format: typeof HISTORY_FORMAT;
  version: typeof HISTORY_FORMAT_VERSION;
  events: HistoryEvent[];
  /** The store's applied writes of the workload keys, in revision order (optional). */
  storeWrites?: StoreWrite[];
}

const NS_PER_MS = 1_000_000;

/** The history as a file: invoke and completion events of every operation, in time order. */
export function exportHistory(
  ops: readonly ChaosOp[],
  storeWrites?: readonly StoreWrite[],
): HistoryFile {
  type Pending = Omit<HistoryEvent, "index"> & { order: number };
  const events: Pending[] = [];
  // The final reads (client 0) are one range read, so they overlap: each gets a process of its
  // own after the workload's, keeping "one open operation per process" true.
  let nextProcess = Math.max(0, ...ops.map((op) => op.clientId)) + 1;
  ops.forEach((op, i) => {
    const f: OpFunction = op.op === "put" ? "write" : "read";
    const process = op.clientId === FINAL_READ_CLIENT ? nextProcess++ : op.clientId;
    const base = { process, f, key: op.key };
    events.push({
      ...base,
      type: "invoke",
      value: op.op === "put" ? op.value : null,
      time: toNs(op.callMs),
      order: 2 * i,
    });
    if (op.returnMs === undefined) {
      // Unknown outcome: Jepsen's `info`, when the error came back (or after every known event
      // for one still in flight at the end); the op may take effect at any time after its call.
      events.push({
        ...base,
        type: "info",
        value: op.op === "put" ? op.value : null,
        time: op.failedMs === undefined ? Number.POSITIVE_INFINITY : toNs(op.failedMs),
        order: 2 * i + 1,
        ...(op.error === undefined ? {} : { error: op.error }),
      });
      return;
    }
    events.push({
      ...base,
      type: "ok",
      value: op.value ?? null,
      time: toNs(op.returnMs),
      order: 2 * i + 1,
      ...(op.op === "put" && op.revision !== undefined ? { revision: op.revision } : {}),
    });
  });
  // Time order; ties keep the recorder's order (an invoke before its own completion).
  events.sort((a, b) => a.time - b.time || a.order - b.order);
  const last = events.reduce((t, e) => (Number.isFinite(e.time) ? Math.max(t, e.time) : t), 0);
  return {
    format: HISTORY_FORMAT,
    version: HISTORY_FORMAT_VERSION,
    events: events.map(({ order: _order, ...e }, index) => ({
      ...e,
      index,
      // JSON has no infinity: an unknown outcome is stamped after every known event.
      time: Number.isFinite(e.time) ? e.time : last + 1,
    })),
    ...(storeWrites === undefined ? {} : { storeWrites: [...storeWrites] }),
  };
}

export class HistoryFormatError extends Error {
  override name = "HistoryFormatError";
}

/**
 * Reads a history file back into operations the checker takes. An `info` (or `fail`, which a
 * reader cannot trust to mean "did not happen" for a write that may be retried) leaves the
 * operation pending; an invoke with no completion at all is pending too.
 */
export function importHistory(file: unknown): { ops: ChaosOp[]; storeWrites?: StoreWrite[] } {
  if (typeof file !== "object" || file === null) throw new HistoryFormatError("not an object");
  const f = file as Partial<HistoryFile>;
  if (f.format !== HISTORY_FORMAT || f.version !== HISTORY_FORMAT_VERSION) {
    throw new HistoryFormatError(`expected ${HISTORY_FORMAT} version ${HISTORY_FORMAT_VERSION}`);
  }
  if (!Array.isArray(f.events)) throw new HistoryFormatError("events must be an array");
  if (f.events.length > MAX_HISTORY_FILE_EVENTS) {
    throw new HistoryFormatError(`more than ${MAX_HISTORY_FILE_EVENTS} events`);
  }
  const open = new Map<number, ChaosOp>();
  const ops: ChaosOp[] = [];
  for (const e of f.events) {
    checkEvent(e);
    const ms = e.time / NS_PER_MS;
    if (e.type === "invoke") {
      if (open.has(e.process)) {
        throw new HistoryFormatError(`event ${e.index}: process ${e.process} has an open op`);
      }
      const op: ChaosOp =
        e.f === "write"
          ? ({
              op: "put",
              clientId: e.process,
              key: e.key,
              value: e.value ?? "",
              callMs: ms,
            } as PutOp)
          : ({ op: "get", clientId: e.process, key: e.key, callMs: ms } as GetOp);
      open.set(e.process, op);
      ops.push(op);
      continue;
    }
    const op = open.get(e.process);
    if (op === undefined) {
      throw new HistoryFormatError(
        `event ${e.index}: ${e.type} of process ${e.process} without invoke`,
      );
    }
    open.delete(e.process);
    if (e.type !== "ok") {
      if (e.error !== undefined) op.error = e.error;
      op.failedMs = ms;
      continue;
    }
    op.returnMs = ms;
    if (op.op === "put" && e.revision !== undefined) op.revision = e.revision;
    if (op.op === "get" && e.value !== null) op.value = e.value;
  }
  return { ops, ...(f.storeWrites === undefined ? {} : { storeWrites: f.storeWrites }) };
}

function checkEvent(e: unknown): asserts e is HistoryEvent {
  const v = e as Partial<HistoryEvent> | null;
  const bad = (what: string) => new HistoryFormatError(`event ${v?.index ?? "?"}: ${what}`);
  if (typeof v !== "object" || v === null) throw bad("not an object");
  if (!Number.isInteger(v.process)) throw bad("process must be an integer");
  if (!["invoke", "ok", "fail", "info"].includes(v.type as string)) throw bad("bad type");
  if (v.f !== "read" && v.f !== "write") throw bad(`f ${String(v.f)} is not read or write`);
  if (typeof v.key !== "string") throw bad("key must be a string");
  if (v.value !== null && typeof v.value !== "string") throw bad("value must be a string or null");
  if (typeof v.time !== "number" || !Number.isFinite(v.time)) throw bad("time must be a number");
}

function toNs(ms: number): number {
  return Math.round(ms * NS_PER_MS);
}

/** The verdict on a history file: linearizability always; the store comparison when the file
 *  carries the store's writes (a file from another producer may not). */
export function checkHistoryFile(file: unknown): {
  ops: number;
  verdict: HistoryVerdict;
  comparedWithStore: boolean;
} {
  const { ops, storeWrites } = importHistory(file);
  if (storeWrites !== undefined) {
    return { ops: ops.length, verdict: analyzeHistory(ops, storeWrites), comparedWithStore: true };
  }
  return {
    ops: ops.length,
    verdict: {
      linearizability: checkLinearizability(ops),
      lost: [],
      duplicated: [],
      phantom: [],
      revisionMismatch: [],
    },
    comparedWithStore: false,
  };
}
