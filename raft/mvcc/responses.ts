/**
 * etcd-shaped results of commands and reads (rpc.proto's *Response messages). Errors are typed
 * results, never exceptions: bad user input must not crash a replica, and every replica must
 * produce the same result for the same entry.
 */

export interface ResponseHeader {
  /** The store's revision after the command (or at which a read was served). */
  revision: number;
}

/** etcd's mvccpb.KeyValue. */
export interface KeyValue {
  key: Buffer;
  value: Buffer;
  createRevision: number;
  modRevision: number;
  /** 1 on creation, +1 per put; a delete ends the key's generation. */
  version: number;
  lease: number;
}

export interface PutResponse {
  kind: "put";
  header: ResponseHeader;
  prevKv?: KeyValue;
}

export interface RangeResponse {
  kind: "range";
  header: ResponseHeader;
  kvs: KeyValue[];
  /** More keys matched than were returned. */
  more: boolean;
  /** How many keys matched in total. */
  count: number;
}

export interface DeleteRangeResponse {
  kind: "deleteRange";
  header: ResponseHeader;
  deleted: number;
  prevKvs?: KeyValue[];
}

export type TxnOpResponse = PutResponse | RangeResponse | DeleteRangeResponse;

export interface TxnResponse {
  kind: "txn";
  header: ResponseHeader;
  succeeded: boolean;
  responses: TxnOpResponse[];
}

export interface CompactResponse {
  kind: "compact";
  header: ResponseHeader;
}

export interface LeaseGrantResponse {
  kind: "leaseGrant";
  header: ResponseHeader;
  id: number;
  ttlMs: number;
}

export interface LeaseRevokeResponse {
  kind: "leaseRevoke";
  header: ResponseHeader;
}

export interface LeaseKeepAliveResponse {
  kind: "leaseKeepAlive";
  header: ResponseHeader;
  id: number;
  ttlMs: number;
}

export interface LeaseCheckpointResponse {
  kind: "leaseCheckpoint";
  header: ResponseHeader;
}

export interface LeaseExpireResponse {
  kind: "leaseExpire";
  header: ResponseHeader;
  /** The leases revoked (those listed that were still due). */
  expired: number[];
}

export interface ExpireSessionsResponse {
  kind: "expireSessions";
  header: ResponseHeader;
  /** The sessions dropped (those listed that were still idle at the seq given). */
  expired: number[];
}

export interface RegisterSessionResponse {
  kind: "registerSession";
  header: ResponseHeader;
  clientId: number;
}

/** The error kinds, named as etcd's messages name them. */
export type MvccError =
  | { error: "compacted"; compactRevision: number }
  | { error: "future revision"; currentRevision: number }
  | { error: "empty key" }
  | { error: "key too large"; maxKeyBytes: number }
  | { error: "value too large"; maxValueBytes: number }
  | { error: "too many ops"; maxTxnOps: number }
  | { error: "duplicate key" }
  | { error: "key not found" }
  | { error: "value provided" }
  | { error: "lease provided" }
  | { error: "lease not found"; leaseId: number }
  | { error: "lease exists"; leaseId: number }
  | { error: "invalid ttl"; maxLeaseTtlMs: number }
  | { error: "invalid request"; detail: string }
  | { error: "restoring" };

export type ErrorResponse = { kind: "error"; header: ResponseHeader } & MvccError;

export type CommandResponse =
  | PutResponse
  | DeleteRangeResponse
  | TxnResponse
  | CompactResponse
  | LeaseGrantResponse
  | LeaseRevokeResponse
  | LeaseKeepAliveResponse
  | LeaseCheckpointResponse
  | LeaseExpireResponse
  | ExpireSessionsResponse
  | RegisterSessionResponse
  | ErrorResponse;

/** What applying one committed entry produced. */
export type ApplyOutcome =
  | { index: number; status: "applied"; response: CommandResponse }
  /** A retry of the session's last command: its cached response; nothing applied again. */
  | { index: number; status: "duplicate"; response: CommandResponse }
  /** An older command of a session that has moved on: ignored. */
  | { index: number; status: "stale" }
  /** The session is unknown (expired or never registered): refused, fate unknown to the client. */
  | { index: number; status: "sessionExpired" }
  | { index: number; status: "outOfOrder"; expectedSeq: number }
  /** An entry without a command (no-op, configuration change). */
  | { index: number; status: "noop" }
  /** Already applied before (replay after restart): skipped. */
  | { index: number; status: "alreadyApplied" };

export function errorResponse(revision: number, error: MvccError): ErrorResponse {
  return { kind: "error", header: { revision }, ...error };
}
