import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { InspectorUi } from "../../actors/inspector/inspector-ui.ts";
import type { ActorSystem } from "../../actors/system/actor-system.ts";
import type { StoreClient } from "../../raft/client/store-client.ts";
import { type Membership, NotLeaderError } from "../../raft/replica/membership.ts";
import { FaultRuleError } from "../../transport/faults.ts";
import type { Introspection } from "./introspection.ts";
import { kvRoute, STREAMING } from "./kv-http.ts";

/**
 * The node's HTTP surface, on the same port as the mesh: health, metrics, status and
 * inspection for humans and the CLI; fault and chaos controls behind the join token.
 */
export interface AdminDeps {
  system: ActorSystem;
  introspection: Introspection;
  metrics: Registry;
  token: string;
  ready: () => { ready: boolean; reason: string };
  setFaultRules: (rules: unknown) => void;
  /** `{syncDelayMs}`: the slow-disk failpoint; throws RangeError on a bad value. */
  setDiskFaults: (body: unknown) => void;
  /** `{rate, wallOffsetMs}`: the clock-skew failpoint; throws RangeError on a bad value. */
  setClockSkew: (body: unknown) => void;
  /** Membership changes, on a server. */
  membership: () => Membership | null;
  /** The store client of a server node; absent on agents. */
  storeClient: () => StoreClient | null;
  /** The browser inspector (`/ui`), once the node has started it. */
  ui: () => InspectorUi | null;
}

export const MAX_ADMIN_BODY_BYTES = 64 * 1024;
/** A kv request carries at most one value (≤ 1.5 MiB, the store's limit) plus its JSON. */
export const MAX_KV_BODY_BYTES = 2 * 1024 * 1024;
const REMOTE_ASK_TIMEOUT_MS = 3_000;

class HttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, code: number, body: unknown, type = "application/json"): void {
  const text = type === "application/json" ? `${JSON.stringify(body)}\n` : String(body);
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? "";
  const given = Buffer.from(header.startsWith("Bearer ") ? header.slice(7) : "");
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readJson(req: IncomingMessage, maxBytes = MAX_ADMIN_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, `body over ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

export function createAdminHandler(deps: AdminDeps) {
  const serveKv = (req: IncomingMessage, res: ServerResponse, url: URL, key: string) => {
    const client = deps.storeClient();
    if (!authorized(req, deps.token)) return send(res, 401, { error: "bearer token required" });
    if (client === null) return send(res, 404, { error: "this node is not a server: no store" });
    kvRoute(client, key, url, () => readJson(req, MAX_KV_BODY_BYTES), res, req).then(
      (body) => {
        if (body === STREAMING) return;
        if (body === undefined) send(res, 404, { error: `no route ${key}` });
        else send(res, 200, body);
      },
      (error: Error & { code?: number }) => {
        if (res.headersSent) return void res.end();
        send(res, error.code ?? 503, { error: error.message });
      },
    );
  };

  /** A failpoint set from the body: a bad value is the caller's mistake (400); a node without
   * --faults refuses any (409). */
  const setFailpoint = async (req: IncomingMessage, set: (body: unknown) => void) => {
    if (!authorized(req, deps.token)) throw new HttpError(401, "bearer token required");
    const body = await readJson(req);
    try {
      set(body);
    } catch (error) {
      throw new HttpError(error instanceof RangeError ? 400 : 409, (error as Error).message);
    }
    return { ok: true };
  };

  const { system, introspection } = deps;
  const askNode = (nodeId: string, kind: string, body: unknown) =>
    system.ask(system.address("admin"), `${nodeId}/node`, kind, body, REMOTE_ASK_TIMEOUT_MS);

  const routes: Record<string, (req: IncomingMessage, url: URL) => Promise<unknown> | unknown> = {
    "GET /status": (_req, url) => {
      const node = url.searchParams.get("node");
      if (node && node !== system.nodeId) return askNode(node, "system.status", null);
      return introspection.status();
    },
    "GET /inspect/chart": (_req, url) => {
      const actor = url.searchParams.get("actor");
      if (!actor) throw new HttpError(400, "missing ?actor=");
      const node = actor.includes("/") ? actor.split("/")[0] : system.nodeId;
      if (node !== system.nodeId) return askNode(node as string, "inspect.chart", { actor });
      const answer = introspection.chart(actor);
      if ("error" in answer) throw new HttpError(404, String(answer.error));
      return answer;
    },
    "GET /inspect/events": (_req, url) => {
      const sinceSeq = Number(url.searchParams.get("since") ?? "0");
      const limit = Number(url.searchParams.get("limit") ?? "500");
      if (!Number.isInteger(sinceSeq) || sinceSeq < 0) throw new HttpError(400, "bad ?since=");
      if (!Number.isInteger(limit) || limit < 1) throw new HttpError(400, "bad ?limit=");
      const address = url.searchParams.get("address") ?? undefined;
      const node = url.searchParams.get("node") ?? address?.split("/")[0] ?? system.nodeId;
      if (address !== undefined && !address.includes("/"))
        throw new HttpError(400, "address is node/actor");
      if (node !== system.nodeId)
        return askNode(node, "inspect.query", { sinceSeq, address, limit });
      return introspection.inspectionPage(sinceSeq, address, limit);
    },
    "POST /admin/faults": async (req) => {
      if (!authorized(req, deps.token)) throw new HttpError(401, "bearer token required");
      const rules = await readJson(req);
      try {
        deps.setFaultRules(rules);
      } catch (error) {
        // a malformed rule is the caller's mistake; a node without --faults refuses any rule
        const code = error instanceof FaultRuleError ? 400 : 409;
        throw new HttpError(code, (error as Error).message);
      }
      return { ok: true };
    },
    "POST /admin/disk-faults": (req) => setFailpoint(req, deps.setDiskFaults),
    "POST /admin/clock-skew": (req) => setFailpoint(req, deps.setClockSkew),
    "POST /admin/members": async (req) => {
      if (!authorized(req, deps.token)) throw new HttpError(401, "bearer token required");
      const membership = deps.membership();
      if (membership === null) throw new HttpError(404, "this node is not a server");
      const body = (await readJson(req)) as { op?: unknown; id?: unknown; address?: unknown };
      try {
        if (body?.op === "add" && typeof body.id === "string" && typeof body.address === "string") {
          return await membership.add(body.id, body.address);
        }
        if (body?.op === "remove" && typeof body.id === "string")
          return await membership.remove(body.id);
        if (body?.op === "move-leader" && typeof body.id === "string")
          return await membership.moveLeader(body.id);
      } catch (error) {
        // the CLI asks the leader it is told about
        if (error instanceof NotLeaderError) throw new HttpError(421, error.message);
        throw new HttpError(409, (error as Error).message);
      }
      throw new HttpError(
        400,
        "body must be {op: 'add', id, address}, {op: 'remove', id} or {op: 'move-leader', id}",
      );
    },
    "POST /admin/crash": (req, url) => {
      if (!authorized(req, deps.token)) throw new HttpError(401, "bearer token required");
      const actor = url.searchParams.get("actor");
      if (!actor) throw new HttpError(400, "missing ?actor=");
      const error = introspection.crashActor(actor);
      if (error) throw new HttpError(409, error);
      return { crashed: actor };
    },
  };

  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://node");
    const key = `${req.method} ${url.pathname}`;
    if (key === "GET /healthz" || key === "GET /livez") return send(res, 200, "ok", "text/plain");
    if (key === "GET /readyz") {
      const r = deps.ready();
      return send(res, r.ready ? 200 : 503, r.ready ? "ok" : r.reason, "text/plain");
    }
    if (key === "GET /metrics") {
      deps.metrics.metrics().then(
        (text) => send(res, 200, text, deps.metrics.contentType),
        (error: Error) => send(res, 500, { error: error.message }),
      );
      return;
    }
    if (url.pathname.startsWith("/kv/")) return serveKv(req, res, url, key);
    if (url.pathname === "/ui" || url.pathname.startsWith("/ui/")) {
      const ui = deps.ui();
      if (ui === null) return send(res, 503, { error: "the inspector is not started yet" });
      return ui.handle(req, res, url);
    }
    const route = routes[key];
    if (route === undefined) return send(res, 404, { error: `no route ${key}` });
    Promise.resolve()
      .then(() => route(req, url))
      .then(
        (body) => send(res, 200, body),
        (error: Error) => {
          const code = error instanceof HttpError ? error.code : 502;
          send(res, code, { error: error.message });
        },
      );
  };
}
