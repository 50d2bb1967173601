/**
 * The key/value register model: `put`, `get`, `delete`, `cas` on one key per operation, so a
 * history partitions by key (P-compositionality) and each partition is a single register whose
 * state is its value, or undefined when absent.
 */
import { ILLEGAL, type Illegal, type Model, type Operation } from "./model.ts";

export type KvPut = Operation<"put", { key: string; value: string }, null>;
/** `output` is the value read; undefined when the key was absent. */
export type KvGet = Operation<"get", { key: string }, string | undefined>;
export type KvDelete = Operation<"delete", { key: string }, null>;
/** `expected` undefined means "only if absent"; `output` says whether the swap happened. */
export type KvCas = Operation<
  "cas",
  { key: string; expected: string | undefined; value: string },
  boolean
>;
export type KvOperation = KvPut | KvGet | KvDelete | KvCas;

export type KvRegister = string | undefined;

const ABSENT_KEY = "\u0000absent";

function stepKv(state: KvRegister, op: KvOperation, pending: boolean): KvRegister | Illegal {
  switch (op.op) {
    case "put":
      return op.input.value;
    case "delete":
      return undefined;
    case "get":
      if (pending || op.output === state) return state;
      return ILLEGAL;
    case "cas": {
      const matches = state === op.input.expected;
      if (pending) return matches ? op.input.value : state;
      if (op.output !== matches) return ILLEGAL;
      return matches ? op.input.value : state;
    }
  }
}

function show(value: string | undefined): string {
  return value === undefined ? "<absent>" : JSON.stringify(value);
}

function describeKv(op: KvOperation): string {
  const who = `client ${op.clientId}`;
  const when = `[${op.callMs}, ${op.returnMs ?? "∞"}]`;
  switch (op.op) {
    case "put":
      return `${who} put(${op.input.key}, ${show(op.input.value)}) ${when}`;
    case "delete":
      return `${who} delete(${op.input.key}) ${when}`;
    case "get":
      return `${who} get(${op.input.key}) → ${op.returnMs == null ? "?" : show(op.output)} ${when}`;
    case "cas":
      return `${who} cas(${op.input.key}, ${show(op.input.expected)}, ${show(op.input.value)}) → ${
        op.returnMs == null ? "?" : String(op.output)
      } ${when}`;
  }
}

export const kvModel: Model<KvRegister, KvOperation> = {
  init: () => undefined,
  step: stepKv,
  stateKey: (state) => (state === undefined ? ABSENT_KEY : state),
  partitionKey: (op) => op.input.key,
  isReadOnly: (op) => op.op === "get",
  describeOperation: describeKv,
  describeState: show,
};
