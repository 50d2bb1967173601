/**
 * The one message shape that crosses the mesh (DESIGN §4). Addresses are `nodeId/actorName`.
 *
 * - a tell carries neither `id` nor `replyTo`;
 * - an ask carries a correlation `id` the replier echoes;
 * - a reply carries `replyTo` = the ask's `id`.
 */
export interface Envelope {
  to: string;
  from: string;
  /** Application-level message type, e.g. `ping`, `raft.msg`, `inspect.query`. */
  kind: string;
  id?: string;
  replyTo?: string;
  body: unknown;
}

export type EnvelopeCheck = { ok: true; envelope: Envelope } | { ok: false; reason: string };

const ADDRESS = /^[A-Za-z0-9_.-]{1,64}\/[A-Za-z0-9_.:-]{1,128}$/;
const MAX_KIND_CHARS = 128;
const MAX_ID_CHARS = 128;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Validates a decoded value as an Envelope, naming the first thing that is wrong. */
export function checkEnvelope(value: unknown): EnvelopeCheck {
  if (!isPlainObject(value)) return { ok: false, reason: "envelope is not a map" };
  const { to, from, kind, id, replyTo } = value;
  if (typeof to !== "string" || !ADDRESS.test(to)) return { ok: false, reason: "bad 'to' address" };
  if (typeof from !== "string" || !ADDRESS.test(from)) {
    return { ok: false, reason: "bad 'from' address" };
  }
  if (typeof kind !== "string" || kind.length === 0 || kind.length > MAX_KIND_CHARS) {
    return { ok: false, reason: "bad 'kind'" };
  }
  if (id !== undefined && (typeof id !== "string" || id.length > MAX_ID_CHARS)) {
    return { ok: false, reason: "bad 'id'" };
  }
  if (replyTo !== undefined && (typeof replyTo !== "string" || replyTo.length > MAX_ID_CHARS)) {
    return { ok: false, reason: "bad 'replyTo'" };
  }
  if (!("body" in value)) return { ok: false, reason: "missing 'body'" };
  for (const key of Object.keys(value)) {
    if (!ENVELOPE_KEYS.has(key)) return { ok: false, reason: `unknown envelope field '${key}'` };
  }
  return { ok: true, envelope: value as unknown as Envelope };
}

const ENVELOPE_KEYS = new Set(["to", "from", "kind", "id", "replyTo", "body"]);

/** The node part of an address `nodeId/actorName`. */
export function nodeOf(address: string): string {
  const slash = address.indexOf("/");
  return slash < 0 ? address : address.slice(0, slash);
}

/** The actor part of an address `nodeId/actorName`. */
export function actorOf(address: string): string {
  const slash = address.indexOf("/");
  return slash < 0 ? "" : address.slice(slash + 1);
}
