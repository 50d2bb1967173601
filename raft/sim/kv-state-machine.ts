/**
 * One simulated node's replicated state machine: a key/value map behind the client session
 * table. It also keeps its own record of which (client, seq) it executed, independent of the
 * session table, so that a double application is detected even if the table is wrong.
 */
import type { Entry } from "../core/messages.ts";
import {
  type SessionLimits,
  type SessionOutcome,
  SessionTable,
  type SessionTableSnapshot,
} from "../session/session-table.ts";
import { commandId, decodeCommand, type KvCommand, type KvWrite } from "./kv-command.ts";

/** The result a write returns to its client: cas → whether it swapped; put/delete → null. */
export type KvWriteResult = boolean | null;

export type ApplyOutcome =
  | { kind: "registered"; proposal: string; client: string; session: number }
  | {
      kind: "write";
      proposal: string;
      client: string;
      session: number;
      seq: number;
      outcome: SessionOutcome<KvWriteResult>;
    }
  | { kind: "none" };

interface KvSnapshot {
  applied: number;
  data: [string, string][];
  sessions: SessionTableSnapshot<KvWriteResult>;
  executed: string[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class KvStateMachine {
  readonly data = new Map<string, string>();
  private sessions: SessionTable<KvWriteResult>;
  private readonly executed = new Set<string>();
  applied = 0;

  constructor(
    private readonly limits: SessionLimits,
    private readonly onDoubleApply: (id: string, index: number) => void,
  ) {
    this.sessions = new SessionTable(limits);
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  /** Applies a committed normal entry (an empty one is the new leader's no-op). */
  apply(entry: Entry): ApplyOutcome {
    if (entry.index !== this.applied + 1) {
      throw new Error(`kv state machine: applying ${entry.index} after ${this.applied}`);
    }
    this.applied = entry.index;
    if (entry.type !== "normal" || entry.data.byteLength === 0) return { kind: "none" };
    const cmd: KvCommand = decodeCommand(entry.data);
    if (cmd.kind === "register") {
      return {
        kind: "registered",
        proposal: cmd.proposal,
        client: cmd.client,
        session: this.sessions.register(entry.index, cmd.timeMs),
      };
    }
    const outcome = this.sessions.apply(cmd.session, cmd.seq, cmd.timeMs, () => {
      const id = commandId(cmd.client, cmd.session, cmd.seq);
      if (this.executed.has(id)) this.onDoubleApply(id, entry.index);
      this.executed.add(id);
      return this.execute(cmd.write);
    });
    return {
      kind: "write",
      proposal: cmd.proposal,
      client: cmd.client,
      session: cmd.session,
      seq: cmd.seq,
      outcome,
    };
  }

  /** Advances the applied index over an entry the state machine does not interpret. */
  skip(index: number): void {
    if (index !== this.applied + 1) {
      throw new Error(`kv state machine: skipping ${index} after ${this.applied}`);
    }
    this.applied = index;
  }

  hasExecuted(client: string, session: number, seq: number): boolean {
    return this.executed.has(commandId(client, session, seq));
  }

  snapshot(): Uint8Array {
    const snap: KvSnapshot = {
      applied: this.applied,
      data: [...this.data],
      sessions: this.sessions.snapshot(),
      executed: [...this.executed],
    };
    return encoder.encode(JSON.stringify(snap));
  }

  restore(bytes: Uint8Array): void {
    this.data.clear();
    this.executed.clear();
    if (bytes.byteLength === 0) {
      this.applied = 0;
      this.sessions = new SessionTable(this.limits);
      return;
    }
    const snap = JSON.parse(decoder.decode(bytes)) as KvSnapshot;
    this.applied = snap.applied;
    for (const [k, v] of snap.data) this.data.set(k, v);
    for (const id of snap.executed) this.executed.add(id);
    this.sessions = SessionTable.restore(snap.sessions, this.limits);
  }

  private execute(write: KvWrite): KvWriteResult {
    switch (write.op) {
      case "put":
        this.data.set(write.key, write.value);
        return null;
      case "delete":
        this.data.delete(write.key);
        return null;
      case "cas": {
        if (this.data.get(write.key) !== write.expected) return false;
        this.data.set(write.key, write.value);
        return true;
      }
    }
  }
}
