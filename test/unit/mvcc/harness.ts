/**
 * Test driver for the MVCC store: applies commands as consecutive log entries and decodes
 * values as strings, so tests read like etcd transcripts.
 */
import type { MvccBackend } from "../../../raft/mvcc/backend.ts";
import type { CommandEnvelope, MvccCommand, SessionStamp } from "../../../raft/mvcc/commands.ts";
import { MemoryBackend } from "../../../raft/mvcc/memory-backend.ts";
import type { CommandResponse, KeyValue } from "../../../raft/mvcc/responses.ts";
import { MvccStore, type MvccStoreOptions } from "../../../raft/mvcc/store.ts";

export const b = (s: string): Buffer => Buffer.from(s, "utf8");

export function str(kv: KeyValue): {
  key: string;
  value: string;
  create: number;
  mod: number;
  version: number;
  lease: number;
} {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    create: kv.createRevision,
    mod: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

export class Driver {
  constructor(
    public store: MvccStore,
    public readonly backend: MvccBackend,
  ) {}

  static async memory(options: MvccStoreOptions = {}): Promise<Driver> {
    const backend = new MemoryBackend();
    return new Driver(await MvccStore.open(backend, options), backend);
  }

  /** Applies one command as the next log entry and returns its response. */
  async run(command: MvccCommand, session?: SessionStamp): Promise<CommandResponse> {
    const envelope: CommandEnvelope = session ? { command, session } : { command };
    const outcome = await this.store.apply(this.store.appliedIndex + 1, envelope);
    if (outcome.status !== "applied" && outcome.status !== "duplicate") {
      throw new Error(`not applied: ${outcome.status}`);
    }
    return outcome.response;
  }

  put(
    key: string,
    value: string,
    extra: Partial<Extract<MvccCommand, { op: "put" }>> = {},
  ): Promise<CommandResponse> {
    return this.run({ op: "put", key: b(key), value: b(value), ...extra });
  }

  del(key: string, rangeEnd?: string, prevKv = false): Promise<CommandResponse> {
    return this.run({
      op: "deleteRange",
      key: b(key),
      ...(rangeEnd !== undefined ? { rangeEnd: b(rangeEnd) } : {}),
      prevKv,
    });
  }

  async get(key: string, revision = 0) {
    const r = await this.store.range({ key: b(key), revision });
    if (r.kind !== "range") throw new Error(`range failed: ${r.error}`);
    return r.kvs[0] && str(r.kvs[0]);
  }

  /** Every live key (all keys ≥ "\0") at a revision, as [key, value] strings. */
  async all(revision = 0): Promise<[string, string][]> {
    const r = await this.store.range({
      key: Buffer.from([0]),
      rangeEnd: Buffer.from([0]),
      revision,
    });
    if (r.kind !== "range") throw new Error(`range failed: ${r.error}`);
    return r.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]);
  }

  async reopen(options: MvccStoreOptions = {}): Promise<void> {
    this.store = await MvccStore.open(this.backend, options);
  }
}
