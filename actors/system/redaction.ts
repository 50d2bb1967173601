/**
 * What inspection may show of a payload (DESIGN §3, §8): events carry Secrets, tokens and env
 * values, and inspection output goes to terminals, browsers and logs. Every event payload passes
 * through `redactedPreview` where it enters the inspection ring, so the ring, the CLI, the HTTP
 * endpoints and the browser inspector only ever see what survived it.
 *
 * The preview is also bounded: this runs for every event of every actor, so it visits at most
 * `PREVIEW_BUDGET_NODES` values and keeps short strings only. What it cannot judge it drops:
 * - byte arrays (Raft entries, store values) become `<N bytes>`: they may hold anything;
 * - strings that look like JSON (the watch cache's object texts) become `<json, N chars>`;
 * - a Kubernetes object's `data`/`stringData`/`binaryData` (a Secret's, or a list item's that
 *   has no `kind`) is redacted, except a ConfigMap's;
 * - a field whose name says credential (token, password, secret, private key, authorization, cookie, …)
 *   and an env-style `{name: "DB_PASSWORD", value}` pair's value are redacted;
 * - `Bearer …` in any string is redacted.
 */
export const REDACTED = "[redacted]";

/** Values one preview visits at most; the rest is cut (`…`). */
export const PREVIEW_BUDGET_NODES = 48;
/** Nesting kept in a preview. */
export const PREVIEW_MAX_DEPTH = 4;
/** Characters kept of a string. */
export const PREVIEW_MAX_STRING_CHARS = 96;
/** Items kept of an array, keys of an object. */
export const PREVIEW_MAX_ITEMS = 8;

const CREDENTIAL_NAME =
  /token|passw(or)?d|secret|credential|private.?key|api.?key|access.?key|authorization|cookie|signature|hmac|^keypem$/i;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const OBJECT_DATA_FIELDS = new Set(["data", "stringData", "binaryData"]);

/** Whether a field of this name holds a credential, wherever it appears. */
export function isCredentialName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

/** A string with bearer/basic credentials taken out (for error messages and log lines). */
export function redactText(text: string): string {
  return text.replace(BEARER, (match) => `${match.split(/\s+/)[0]} ${REDACTED}`);
}

interface Budget {
  left: number;
}

function previewString(text: string): string {
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) return `<json, ${text.length} chars>`;
  const cut =
    text.length > PREVIEW_MAX_STRING_CHARS
      ? `${text.slice(0, PREVIEW_MAX_STRING_CHARS)}…(${text.length} chars)`
      : text;
  return redactText(cut);
}

function isKubernetesObject(value: Record<string, unknown>): boolean {
  return typeof value.metadata === "object" && value.metadata !== null;
}

function preview(
  value: unknown,
  depth: number,
  budget: Budget,
  omit?: ReadonlySet<string>,
): unknown {
  if (budget.left-- <= 0) return "…";
  if (value === null || value === undefined) return value;
  switch (typeof value) {
    case "string":
      return previewString(value);
    case "number":
    case "boolean":
      return value;
    case "bigint":
      return String(value);
    case "function":
    case "symbol":
      return undefined;
  }
  if (ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>`;
  if (value instanceof ArrayBuffer) return `<${value.byteLength} bytes>`;
  if (value instanceof Error) return previewString(value.message);
  if (depth >= PREVIEW_MAX_DEPTH) return Array.isArray(value) ? `[${value.length} items]` : "{…}";
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length && i < PREVIEW_MAX_ITEMS; i++) {
      out.push(preview(value[i], depth + 1, budget));
    }
    if (value.length > PREVIEW_MAX_ITEMS) out.push(`…+${value.length - PREVIEW_MAX_ITEMS}`);
    return out;
  }
  if (value instanceof Map) return `<map, ${value.size} entries>`;
  if (value instanceof Set) return `<set, ${value.size} items>`;
  const record = value as Record<string, unknown>;
  const kubeObject = isKubernetesObject(record) && record.kind !== "ConfigMap";
  const envStyle = typeof record.name === "string" && isCredentialName(record.name);
  const out: Record<string, unknown> = {};
  let kept = 0;
  for (const key in record) {
    if (kept === PREVIEW_MAX_ITEMS) {
      out["…"] = "more keys";
      break;
    }
    const field = record[key];
    if (typeof field === "function" || omit?.has(key)) continue;
    kept++;
    if (
      isCredentialName(key) ||
      (kubeObject && OBJECT_DATA_FIELDS.has(key)) ||
      (envStyle && key === "value")
    ) {
      out[key] = REDACTED;
      continue;
    }
    out[key] = preview(field, depth + 1, budget);
  }
  return out;
}

/**
 * A small, redacted copy of an inspection payload (an event without its `type`, sender and
 * reply functions): safe to store, send and show.
 */
export function redactedPreview(value: unknown, omit?: ReadonlySet<string>): unknown {
  return preview(value, 0, { left: PREVIEW_BUDGET_NODES }, omit);
}

/**
 * An event's fields that are not its payload: the inspection record holds `type` and `from`
 * apart, and `peer` (the sender's link identity) is the same for every message from that node.
 */
const EVENT_ENVELOPE_FIELDS: ReadonlySet<string> = new Set(["type", "from", "peer"]);

/** The redacted preview of an event's payload; undefined when it has none beyond its type. */
export function eventPayloadPreview(event: object): unknown {
  let any = false;
  for (const key in event) {
    if (!EVENT_ENVELOPE_FIELDS.has(key)) {
      any = true;
      break;
    }
  }
  if (!any) return undefined;
  const out = redactedPreview(event, EVENT_ENVELOPE_FIELDS) as Record<string, unknown>;
  for (const key in out) if (out[key] !== undefined) return out;
  return undefined;
}
