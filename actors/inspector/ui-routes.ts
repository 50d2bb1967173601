/**
 * The browser inspector's HTTP surface, under `/ui` on every node's port:
 *
 *   GET  /ui/login, /ui/login.css, /ui/login.js   the sign-in form (public)
 *   POST /ui/login                                 token → session cookie, 303 to /ui/
 *   POST /ui/logout                                clears the cookie
 *   GET  /ui/  /ui/app.js  /ui/app.css             the page (bundled on first use)
 *   GET  /ui/api/cluster                           every node's actors (ClusterView)
 *   GET  /ui/api/chart?actor=                      one statechart and its state
 *   GET  /ui/api/events?actor=&since=&limit=       one actor's records still in its node's ring
 *   GET  /ui/api/stream[?actor=]                   server-sent events: the cluster's state
 *                                                  changes, or one actor's every record
 *
 * Everything but the sign-in form answers 401 without the token (bearer) or the cookie made
 * from it (ui-auth.ts).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InspectionPage } from "../system/inspection-ring.ts";
import {
  clearedSessionCookie,
  isAuthorized,
  isClusterToken,
  MAX_LOGIN_BODY_BYTES,
  sessionCookie,
} from "./ui-auth.ts";
import {
  LOGIN_CSS,
  LOGIN_JS,
  loginDocument,
  shellDocument,
  UI_CONTENT_SECURITY_POLICY,
} from "./ui-documents.ts";
import type { ChartView, ClusterView } from "./ui-protocol.ts";
import type { UiStreams } from "./ui-streams.ts";

export interface UiRoutesDeps {
  nodeId: string;
  token: string;
  streams: UiStreams;
  bundle: () => Promise<{ js: string; css: string; etag: string }>;
  cluster: () => Promise<ClusterView>;
  chart: (actor: string) => Promise<ChartView>;
  events: (actor: string, sinceSeq: number, limit: number) => Promise<InspectionPage>;
}

export class UiHttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  "content-security-policy": UI_CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function send(
  res: ServerResponse,
  code: number,
  type: string,
  body: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(code, {
    ...SECURITY_HEADERS,
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...extra,
  });
  res.end(body);
}

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json";

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  send(res, code, JSON_TYPE, `${JSON.stringify(body)}\n`);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_LOGIN_BODY_BYTES) throw new UiHttpError(413, "form too large");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function actorParam(url: URL): string {
  const actor = url.searchParams.get("actor");
  if (actor === null || !actor.includes("/")) {
    throw new UiHttpError(400, "?actor= must be node/actor");
  }
  return actor;
}

function countParam(url: URL, name: string, fallback: number): number {
  const n = Number(url.searchParams.get(name) ?? fallback);
  if (!Number.isInteger(n) || n < 0) throw new UiHttpError(400, `bad ?${name}=`);
  return n;
}

/**
 * Returns the handler for `/ui` paths (it answers every path under `/ui`, with 404 for unknown
 * ones).
 */
export function createUiRoutes(deps: UiRoutesDeps) {
  const login = (res: ServerResponse, code: number, error: string | null) =>
    send(res, code, HTML, loginDocument(deps.nodeId, error));

  const api: Record<string, (url: URL) => Promise<unknown>> = {
    "/ui/api/cluster": () => deps.cluster(),
    "/ui/api/chart": (url) => deps.chart(actorParam(url)),
    "/ui/api/events": (url) =>
      deps.events(actorParam(url), countParam(url, "since", 0), countParam(url, "limit", 1000)),
  };

  const serveAsset = (req: IncomingMessage, res: ServerResponse, kind: "js" | "css") => {
    deps.bundle().then(
      (bundle) => {
        if (req.headers["if-none-match"] === bundle.etag) {
          res.writeHead(304, { etag: bundle.etag });
          return void res.end();
        }
        const type = kind === "js" ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
        send(res, 200, type, bundle[kind], { etag: bundle.etag, "cache-control": "no-cache" });
      },
      (error: Error) => send(res, 500, "text/plain", `inspector page failed to build: ${error}`),
    );
  };

  return (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const path = url.pathname;
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/ui/login") return login(res, 200, null);
    if (method === "GET" && path === "/ui/login.css")
      return send(res, 200, "text/css; charset=utf-8", LOGIN_CSS);
    if (method === "GET" && path === "/ui/login.js")
      return send(res, 200, "text/javascript; charset=utf-8", LOGIN_JS);
    if (method === "POST" && path === "/ui/login") {
      readForm(req).then(
        (form) => {
          if (!isClusterToken(form.get("token") ?? "", deps.token))
            return login(res, 401, "That is not this cluster's token.");
          send(res, 303, "text/plain", "signed in\n", {
            location: "/ui/",
            "set-cookie": sessionCookie(deps.token),
          });
        },
        (error: Error) =>
          login(res, error instanceof UiHttpError ? error.code : 400, error.message),
      );
      return;
    }
    if (method === "POST" && path === "/ui/logout") {
      return send(res, 303, "text/plain", "signed out\n", {
        location: "/ui/login",
        "set-cookie": clearedSessionCookie(),
      });
    }
    if (!isAuthorized(req, deps.token)) {
      if (path.startsWith("/ui/api/")) return sendJson(res, 401, { error: "token required" });
      return login(res, 401, null);
    }
    if (method !== "GET") return sendJson(res, 405, { error: `${method} ${path}` });
    if (path === "/ui" || path === "/ui/") return send(res, 200, HTML, shellDocument(deps.nodeId));
    if (path === "/ui/app.js") return serveAsset(req, res, "js");
    if (path === "/ui/app.css") return serveAsset(req, res, "css");
    if (path === "/ui/api/stream") {
      const actor = url.searchParams.get("actor");
      if (actor !== null && !actor.includes("/"))
        return sendJson(res, 400, { error: "?actor= must be node/actor" });
      if (!deps.streams.open(res, actor))
        sendJson(res, 429, { error: `too many inspector streams on ${deps.nodeId}` });
      return;
    }
    const route = api[path];
    if (route === undefined) return sendJson(res, 404, { error: `no route ${path}` });
    route(url).then(
      (body) => sendJson(res, 200, body),
      (error: Error) => {
        const code = error instanceof UiHttpError ? error.code : 502;
        sendJson(res, code, { error: error.message });
      },
    );
  };
}
