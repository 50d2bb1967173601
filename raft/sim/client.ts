/**
 * A simulated client: registers a session, then issues one operation at a time — writes as
 * session-stamped proposals (exactly-once across retries), reads through ReadIndex — retrying a
 * write that timed out at another node until it is answered, and recording every operation in a
 * history for the linearizability checker.
 */

import type { KvWrite } from "./kv-command.ts";
import type { KvOperation } from "./linearizability/kv-model.ts";

export type ClientRequest =
  | { type: "register"; client: string }
  | { type: "write"; client: string; session: number; seq: number; write: KvWrite }
  | { type: "read"; client: string; readId: number; key: string };

export type ClientResponse =
  | { type: "registered"; session: number }
  | { type: "written"; session: number; seq: number; result: boolean | null }
  | { type: "sessionExpired"; session: number; seq: number }
  | { type: "read"; readId: number; value: string | undefined }
  | { type: "rejected"; request: ClientRequest; leaderHint: string | null; reason: string };

export type ClientActivity =
  | { state: "idle"; nextOpAtMs: number }
  | { state: "registering"; deadlineMs: number; retryAtHint: boolean }
  | {
      state: "writing";
      deadlineMs: number;
      /** Rejected with a leader hint: the retry at `deadlineMs` goes to the hinted node. */
      retryAtHint: boolean;
      seq: number;
      write: KvWrite;
      op: KvOperation;
    }
  | { state: "reading"; deadlineMs: number; readId: number; op: KvOperation };

export class SimClient {
  session: number | null = null;
  seq = 0;
  readId = 0;
  target: string;
  activity: ClientActivity = { state: "idle", nextOpAtMs: 0 };
  /** Writes acknowledged to this client: none may be lost. */
  readonly acknowledged: { session: number; seq: number }[] = [];

  constructor(
    readonly name: string,
    initialTarget: string,
  ) {
    this.target = initialTarget;
  }

  get outstanding(): boolean {
    return this.activity.state === "registering" || this.activity.state === "writing";
  }
}
