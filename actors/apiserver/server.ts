/**
 * The Kubernetes API server of one server node: HTTPS (or plain HTTP behind an explicit flag)
 * on its own port, bearer-token authentication, then discovery, health, version, OpenAPI and
 * the resources. Stateless: everything it serves comes from the replicated store, so any
 * server's API server answers the same.
 */

import { randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { parse as parseYaml } from "yaml";
import { asObject, asString, type JsonObject, type JsonValue } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { SYSTEM_PRIORITY_CLASSES } from "../api/priority-class.ts";
import { RESOURCES, type ResourceInfo, resourceByPlural } from "../api/resources.ts";
import {
  badRequestStatus,
  internalErrorStatus,
  resourceNotServedStatus,
  type Status,
  serviceUnavailableStatus,
  unauthorizedStatus,
} from "../api/status.ts";
import { ANONYMOUS_USER, SYSTEM_UNAUTHENTICATED, type UserInfo } from "../api/user-info.ts";
import { SYSTEM_NAMESPACES } from "../api/well-known.ts";
import { ApiError } from "../client/errors.ts";
import type { Clock } from "../system/clock.ts";
import type { Auditor } from "./audit.ts";
import type { Attributes } from "./auth/attributes.ts";
import { forbidden } from "./auth/authorization.ts";
import { impersonatedUser } from "./auth/impersonation.ts";
import { ensureBootstrapPolicy } from "./auth/policy-bootstrap.ts";
import { authenticate, isPublicPath, type TokenAuthenticator } from "./authn.ts";
import { toJson } from "./cache-index.ts";
import {
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo,
  wantsAggregatedDiscovery,
} from "./discovery.ts";
import { admitRequest, type InFlightLimits, isLongRunning, MaxInFlight } from "./max-in-flight.ts";
import type { ObjectStore } from "./object-store.ts";
import { openApiV3Document, openApiV3Paths } from "./openapi.ts";
import { PodExecServer } from "./pod-exec.ts";
import { PodPortForwardServer } from "./pod-portforward.ts";
import { decodeProtobufBody } from "./protobuf-body.ts";
import { objectKey } from "./registry-keys.ts";
import { parseRequestInfo } from "./request-info.ts";
import {
  assertJsonDepth,
  assertYamlFlowDepth,
  closesConnection,
  DEFAULT_REQUEST_LIMITS,
  decodeUtf8,
  parseRequestUrl,
  type RequestLimits,
  readLimitedBody,
  serverOptions,
} from "./request-limits.ts";
import { parseRequestOptions } from "./request-options.ts";
import type { ResourceHandler } from "./resource-handler.ts";
import type { HandlerResult, RequestInput } from "./rest-request.ts";
import { serveWatch } from "./watch-stream.ts";

export interface ApiServerConfig {
  host: string;
  port: number;
  /**
   * PEM; both absent = plain HTTP (only with --api-insecure). `clientCaPem`: client
   * certificates this CA signed authenticate (kube-apiserver's --client-ca-file).
   */
  tls: { certPem: string; keyPem: string; clientCaPem?: string } | null;
  token: string;
  /** Bearer tokens other than the admin's (ServiceAccount tokens). */
  tokenAuthenticators?: readonly TokenAuthenticator[];
  clock: Clock;
  logger: Logger;
  /** The server's one REST handler, shared with the internal API (its object store too). */
  handler: ResourceHandler;
  ready: () => { ready: boolean; reason: string };
  /** pods/exec's WebSocket upgrades (absent: refused with a Status). */
  podExec?: PodExecServer;
  /** pods/portforward's WebSocket upgrades (absent: refused with a Status). */
  podPortForward?: PodPortForwardServer;
  /** `--audit-policy-file`: absent, nothing is audited. */
  audit?: Auditor;
  /** `--max-requests-inflight` and `--max-mutating-requests-inflight` (defaults: Kubernetes'). */
  inFlight?: InFlightLimits;
  requestLimits?: Partial<RequestLimits>;
}

/** pods/exec, pods/attach and pods/portforward: the WebSocket upgrades the server takes. */
const STREAMING_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)$/;

const ANONYMOUS: UserInfo = { username: ANONYMOUS_USER, groups: [SYSTEM_UNAUTHENTICATED] };

/** The namespaces every cluster has (kube-apiserver's system namespaces controller). */
const BOOTSTRAP_RETRY_MS = 500;

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  contentType = "application/json",
): void {
  const text = toJson(body);
  res.writeHead(code, { "content-type": contentType, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: Status): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status.code, status);
}

function decodeBody(raw: Buffer, contentType: string, limits: RequestLimits): JsonValue {
  const value = decodeBodyValue(raw, contentType, limits);
  assertJsonDepth(value, limits);
  return value;
}

function decodeBodyValue(raw: Buffer, contentType: string, limits: RequestLimits): JsonValue {
  if (contentType.includes("protobuf")) {
    try {
      return decodeProtobufBody(raw);
    } catch (error) {
      throw new ApiError({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${(error as Error).message})`,
        reason: "UnsupportedMediaType",
        code: 415,
      });
    }
  }
  const text = decodeUtf8(raw);
  if (text.trim() === "") return null;
  const yaml = contentType.includes("yaml");
  if (yaml) assertYamlFlowDepth(text, limits);
  try {
    return (yaml ? parseYaml(text) : JSON.parse(text)) as JsonValue;
  } catch (error) {
    throw new ApiError(
      badRequestStatus(`the body of the request could not be decoded: ${(error as Error).message}`),
    );
  }
}

export class ApiServer {
  private readonly server: Server;
  /** How to end each open watch and followed log (the server's stop ends them all). */
  private readonly openWatches = new Set<() => void>();
  private bootstrapTimer: ReturnType<Clock["setTimeout"]> | null = null;
  /** True once the system namespaces exist: until then this server is not ready (`default` is expected). */
  bootstrapped = false;
  private stopped = false;
  private readonly limits: RequestLimits;
  private readonly inFlight: MaxInFlight;
  port = 0;

  constructor(private readonly config: ApiServerConfig) {
    this.limits = { ...DEFAULT_REQUEST_LIMITS, ...config.requestLimits };
    this.inFlight = new MaxInFlight(config.inFlight);
    const listener = (req: IncomingMessage, res: ServerResponse) => {
      this.serve(req, res).catch((error: unknown) => this.fail(res, error));
    };
    const options = serverOptions(this.limits);
    const tls = config.tls;
    this.server = tls
      ? createHttpsServer(
          {
            ...options,
            cert: tls.certPem,
            key: tls.keyPem,
            // ask for a client certificate but do not insist: a bearer token is as good
            ...(tls.clientCaPem
              ? { ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: false }
              : {}),
          },
          listener,
        )
      : createHttpServer(options, listener);
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head).catch(() => socket.destroy()),
    );
  }

  /** A streaming subresource (pods/exec) over WebSocket: authenticated, then handed over. */
  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    const path = new URL(req.url ?? "/", "http://apiserver").pathname;
    const refuse = (status: Status) => {
      const body = JSON.stringify(status);
      socket.end(
        `HTTP/1.1 ${status.code} ${STATUS_CODES[status.code] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    const authenticated = await authenticate(
      req,
      this.config.token,
      this.config.tokenAuthenticators ?? [],
    );
    if (authenticated === null) return refuse(unauthorizedStatus("Unauthorized"));
    const authorization = this.config.handler.authorization;
    const stream = STREAMING_PATH.exec(path);
    if (authorization !== null && stream !== null) {
      const user = await impersonatedUser(authorization, authenticated, req.headers);
      const attributes: Attributes = {
        kind: "resource",
        user,
        // kubectl's exec, attach and port-forward need `create` on the subresource (as over SPDY)
        verb: "create",
        apiGroup: "",
        resource: "pods",
        subresource: stream[3] ?? "",
        namespace: decodeURIComponent(stream[1] ?? ""),
        name: decodeURIComponent(stream[2] ?? ""),
      };
      const answer = await authorization.authorize(attributes);
      if (answer.decision !== "allow") return refuse(forbidden(attributes, answer.reason));
    }
    if (this.config.podExec !== undefined && PodExecServer.serves(path))
      return this.config.podExec.handleUpgrade(req, socket, head);
    if (this.config.podPortForward !== undefined && PodPortForwardServer.serves(path))
      return this.config.podPortForward.handleUpgrade(req, socket, head);
    refuse(resourceNotServedStatus());
  }

  get url(): string {
    return `${this.config.tls ? "https" : "http"}://${this.config.host}:${this.port}`;
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.config.port, this.config.host, () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : this.config.port;
    this.bootstrapNamespaces();
    this.config.logger.info({ url: this.url }, "api server listening");
    return this.port;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.bootstrapTimer !== null) this.config.clock.clearTimeout(this.bootstrapTimer);
    for (const end of [...this.openWatches]) end();
    this.config.podExec?.stop();
    this.config.podPortForward?.stop();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Creates the system namespaces once the store answers; a txn makes every server's try idempotent. */
  private bootstrapNamespaces(): void {
    const namespaces = RESOURCES.find((r) => r.plural === "namespaces") as ResourceInfo;
    const store = this.config.handler.store;
    const attempt = async () => {
      for (const name of SYSTEM_NAMESPACES) {
        const key = objectKey(namespaces, null, name);
        if ((await store.get(key, false)) !== null) continue;
        const obj: JsonObject = {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: {
            name,
            uid: randomUUID(),
            creationTimestamp: rfc3339(this.config.clock.wallMs()),
            labels: { "kubernetes.io/metadata.name": name },
          },
          spec: { finalizers: ["kubernetes"] },
          status: { phase: "Active" },
        };
        await store.create(key, obj, null);
      }
      await this.bootstrapPriorityClasses(store);
      await ensureBootstrapPolicy(store, this.config.clock.wallMs());
      this.bootstrapped = true;
    };
    const run = () => {
      this.bootstrapTimer = null;
      if (this.stopped) return;
      attempt().catch((error: unknown) => {
        this.config.logger.debug(
          { error: (error as Error).message },
          "bootstrap namespaces: retrying",
        );
        if (!this.stopped)
          this.bootstrapTimer = this.config.clock.setTimeout(run, BOOTSTRAP_RETRY_MS);
      });
    };
    run();
  }

  /** kube-apiserver's `bootstrap-system-priority-classes`: the system classes, once. */
  private async bootstrapPriorityClasses(store: ObjectStore): Promise<void> {
    const classes = resourceByPlural("priorityclasses") as ResourceInfo;
    for (const pc of SYSTEM_PRIORITY_CLASSES) {
      const name = asString(asObject(pc.metadata).name);
      const key = objectKey(classes, null, name);
      if ((await store.get(key, false)) !== null) continue;
      await store.create(
        key,
        {
          ...pc,
          metadata: {
            name,
            uid: randomUUID(),
            creationTimestamp: rfc3339(this.config.clock.wallMs()),
          },
        },
        null,
      );
    }
  }

  private fail(res: ServerResponse, error: unknown): void {
    if (error instanceof ApiError) {
      if (closesConnection(error.status.code) && !res.headersSent)
        res.setHeader("connection", "close");
      sendStatus(res, error.status);
      return;
    }
    const message = (error as Error)?.message ?? String(error);
    this.config.logger.warn({ error: message }, "api request failed");
    const unavailable = /store unavailable/.test(message);
    sendStatus(res, unavailable ? serviceUnavailableStatus(message) : internalErrorStatus(message));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseRequestUrl(req);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const authenticated = await authenticate(
      req,
      this.config.token,
      this.config.tokenAuthenticators ?? [],
    );
    if (authenticated === null && !isPublicPath(path))
      return sendStatus(res, unauthorizedStatus("Unauthorized"));
    const authorization = this.config.handler.authorization;
    let user: UserInfo = authenticated ?? ANONYMOUS;
    if (authenticated !== null && authorization !== null)
      user = await impersonatedUser(authorization, authenticated, req.headers);
    const accept = req.headers.accept;
    const info = parseRequestInfo(method, path, url.searchParams);
    const verb = info.type === "resource" ? info.request.verb : null;
    const longRunning = isLongRunning(path, verb, url.searchParams);
    const audit = this.config.audit?.begin(req, res, { user, method, path, info, longRunning });
    if (!admitRequest(this.inFlight, res, { user, verb, method, path, query: url.searchParams }))
      return;
    if (authorization !== null && info.type === "nonResource" && !isPublicPath(path))
      await authorization.require({
        kind: "nonResource",
        user,
        verb: method.toLowerCase(),
        path: url.pathname,
      });
    if (method === "GET" && this.serveNonResource(path, accept, res)) return;
    if (info.type === "unknownResource" || info.type === "nonResource")
      return sendStatus(res, resourceNotServedStatus());
    const contentType = req.headers["content-type"] ?? "application/json";
    let cached: JsonValue | undefined;
    const input: RequestInput = {
      request: info.request,
      options: parseRequestOptions(url.searchParams),
      accept,
      contentType,
      body: async () => {
        if (cached === undefined) {
          cached = decodeBody(await readLimitedBody(req, this.limits), contentType, this.limits);
          audit?.setRequestObject(cached);
        }
        return cached;
      },
      user,
    };
    // `GET .../configmaps/web?watch=true` watches the one object, as the deprecated watch path did
    if (info.request.verb === "watch" || (info.request.verb === "get" && input.options.watch)) {
      const watchInput = { ...input, request: { ...info.request, verb: "watch" as const } };
      await serveWatch(this.config.handler, this.config.clock, watchInput, res, (end) => {
        this.openWatches.add(end);
        const close = () => {
          this.openWatches.delete(end);
          end();
        };
        req.on("close", close);
        res.on("close", close);
        return () => this.openWatches.delete(end);
      });
      return;
    }
    const out = await this.config.handler.handle(input);
    if (out.warnings && out.warnings.length > 0)
      res.setHeader(
        "warning",
        out.warnings.map((w) => `299 - ${JSON.stringify(w)}`),
      );
    if (out.stream !== undefined) return this.serveTextStream(req, res, out.text ?? "", out.stream);
    if (out.text !== undefined) {
      res.writeHead(out.code, { "content-type": "text/plain; charset=utf-8" });
      res.end(out.text);
      return;
    }
    sendJson(res, out.code, out.body);
  }

  /**
   * A chunked text/plain response (a followed pods/log): `first`, then what `stream` writes,
   * each write waiting for the client to take the last (backpressure). It ends when the stream
   * does, or is aborted when the client goes away or the server stops.
   */
  private async serveTextStream(
    req: IncomingMessage,
    res: ServerResponse,
    first: string,
    stream: NonNullable<HandlerResult["stream"]>,
  ): Promise<void> {
    const abort = new AbortController();
    const end = () => abort.abort();
    this.openWatches.add(end);
    req.on("close", end);
    res.on("close", end);
    const write = (text: string) =>
      new Promise<void>((resolve) => {
        if (abort.signal.aborted || res.write(text)) return resolve();
        const drained = () => {
          res.off("drain", drained);
          abort.signal.removeEventListener("abort", drained);
          resolve();
        };
        res.on("drain", drained);
        abort.signal.addEventListener("abort", drained, { once: true });
      });
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    // headers go out now: a follower sees the stream open before the log has anything new
    res.flushHeaders();
    try {
      if (first !== "") await write(first);
      await stream({ write, signal: abort.signal });
    } finally {
      this.openWatches.delete(end);
      req.off("close", end);
      res.off("close", end);
      if (!res.writableEnded) res.end();
    }
  }

  /** Discovery, version, health and OpenAPI; true when answered. */
  private serveNonResource(path: string, accept: string | undefined, res: ServerResponse): boolean {
    const aggregated = wantsAggregatedDiscovery(accept);
    if (path === "/healthz" || path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return true;
    }
    if (path === "/readyz") {
      const r = this.config.ready();
      res
        .writeHead(r.ready ? 200 : 503, { "content-type": "text/plain" })
        .end(r.ready ? "ok" : r.reason);
      return true;
    }
    if (path === "/version") {
      sendJson(res, 200, versionInfo());
      return true;
    }
    const tokens = this.config.handler.serviceAccountTokens;
    if (tokens !== null && path === "/.well-known/openid-configuration") {
      sendJson(res, 200, tokens.openidConfiguration());
      return true;
    }
    if (tokens !== null && path === "/openid/v1/jwks") {
      sendJson(res, 200, tokens.jwks(), "application/jwk-set+json");
      return true;
    }
    if (path === "/api") {
      if (aggregated)
        sendJson(res, 200, aggregatedDiscovery("api"), AGGREGATED_DISCOVERY_CONTENT_TYPE);
      else sendJson(res, 200, apiVersions(`${this.config.host}:${this.port}`));
      return true;
    }
    if (path === "/apis") {
      if (aggregated)
        sendJson(res, 200, aggregatedDiscovery("apis"), AGGREGATED_DISCOVERY_CONTENT_TYPE);
      else sendJson(res, 200, apiGroupList());
      return true;
    }
    if (path === "/openapi/v3") {
      sendJson(res, 200, openApiV3Paths());
      return true;
    }
    const openapi = /^\/openapi\/v3\/(api|apis)\/(.+)$/.exec(path);
    if (openapi) {
      const gv =
        openapi[1] === "api"
          ? { group: "", version: openapi[2] as string }
          : splitGroupVersion(openapi[2] as string);
      const doc = gv ? openApiV3Document(gv.group, gv.version) : null;
      if (doc === null) return false;
      sendJson(res, 200, doc);
      return true;
    }
    const parts = path.split("/").filter((p) => p !== "");
    if (parts[0] === "api" && parts.length === 2) {
      const list = apiResourceList("", parts[1] as string);
      if (list) sendJson(res, 200, list);
      return list !== null;
    }
    if (parts[0] === "apis" && parts.length === 2) {
      const g = apiGroup(parts[1] as string);
      if (g) sendJson(res, 200, g);
      return g !== null;
    }
    if (parts[0] === "apis" && parts.length === 3) {
      const list = apiResourceList(parts[1] as string, parts[2] as string);
      if (list) sendJson(res, 200, list);
      return list !== null;
    }
    return false;
  }
}

function splitGroupVersion(gv: string): { group: string; version: string } | null {
  const i = gv.indexOf("/");
  return i > 0 ? { group: gv.slice(0, i), version: gv.slice(i + 1) } : null;
}
