import type { IncomingMessage, ServerResponse } from "node:http";
import type { StoreClient } from "../../raft/client/store-client.ts";
import { prefixRangeEnd } from "../../raft/mvcc/key-range.ts";
import type { KeyValue } from "../../raft/mvcc/responses.ts";

/**
 * `/kv/*` on a server's HTTP port, for `bosun kv` and humans: the store client's operations with
 * keys and values as UTF-8 strings. Watches stream newline-delimited JSON until the caller goes.
 */
const enc = (s: string) => Buffer.from(s, "utf8");
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

export interface KvView {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease: number;
}

function view(kv: KeyValue): KvView {
  return {
    key: text(kv.key),
    value: text(kv.value),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

function range(key: string, prefix: boolean) {
  const k = enc(key);
  return prefix ? { key: k, rangeEnd: prefixRangeEnd(k) } : { key: k };
}

export async function kvRoute(
  client: StoreClient,
  key: string,
  url: URL,
  body: () => Promise<unknown>,
  res: ServerResponse,
  req: IncomingMessage,
): Promise<unknown> {
  const prefix = url.searchParams.get("prefix") === "1";
  if (key === "GET /kv/range") {
    const k = url.searchParams.get("key") ?? "";
    const revision = Number(url.searchParams.get("revision") ?? "0");
    const serializable = url.searchParams.get("serializable") === "1";
    const r = await client.range({ ...range(k, prefix), revision }, serializable);
    return { revision: r.header.revision, count: r.count, more: r.more, kvs: r.kvs.map(view) };
  }
  if (key === "POST /kv/put") {
    const b = (await body()) as { key?: unknown; value?: unknown };
    if (typeof b?.key !== "string" || typeof b.value !== "string") {
      throw Object.assign(new Error("body must be {key: string, value: string}"), { code: 400 });
    }
    const r = await client.put(enc(b.key), enc(b.value));
    if (r.kind === "error") {
      const code = r.error.endsWith("too large") ? 413 : 400;
      throw Object.assign(new Error(`put failed: ${r.error}`), { code });
    }
    return { revision: r.header.revision };
  }
  if (key === "POST /kv/delete") {
    const b = (await body()) as { key?: unknown; prefix?: unknown };
    if (typeof b?.key !== "string") {
      throw Object.assign(new Error("body must be {key: string, prefix?: boolean}"), { code: 400 });
    }
    const r = range(b.key, b.prefix === true);
    const out = await client.deleteRange(r.key, r.rangeEnd);
    if (out.kind !== "deleteRange") throw new Error(`delete failed: ${JSON.stringify(out)}`);
    return { revision: out.header.revision, deleted: out.deleted };
  }
  if (key === "GET /kv/watch") {
    const k = url.searchParams.get("key") ?? "";
    const startRevision = Number(url.searchParams.get("startRevision") ?? "0");
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const handle = await client.watch({ ...range(k, prefix), startRevision }, (r) => {
      if (r.kind === "events") {
        for (const e of r.events) {
          res.write(
            `${JSON.stringify({ type: e.type, revision: r.header.revision, kv: view(e.kv) })}\n`,
          );
        }
      } else if (r.kind === "canceled") {
        res.end(`${JSON.stringify({ canceled: r.reason, compactRevision: r.compactRevision })}\n`);
      }
    });
    req.on("close", () => handle.cancel());
    return STREAMING;
  }
  return undefined;
}

/** Returned by a route that answers by itself (a stream). */
export const STREAMING = Symbol("streaming");
