/**
 * The API server's HTTP filters on a real server in this process (plain HTTP on loopback, the
 * REST handler over an in-memory store): issue 18's limits — 413 over 3 MiB without reading the
 * body, 429 with Retry-After when the seats are taken, 400 for bad bytes, depth and paths, slow
 * clients cut off — and the audit log those requests leave.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Auditor } from "../../../actors/apiserver/audit.ts";
import { RotatingAuditLog } from "../../../actors/apiserver/audit-log.ts";
import { parseAuditPolicy } from "../../../actors/apiserver/audit-policy.ts";
import type { InFlightLimits } from "../../../actors/apiserver/max-in-flight.ts";
import type { RequestLimits } from "../../../actors/apiserver/request-limits.ts";
import type { ApiServer } from "../../../actors/apiserver/server.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { startInMemoryApiServer } from "../../support/in-memory-api-server.ts";
import { waitFor } from "../../support/wait.ts";

const TOKEN = "http-filters-test-token";
const clock = new SystemClock();

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection after this response (or without one). */
  closed: boolean;
}

/**
 * One raw HTTP/1.1 exchange: `head` (and `body`) written as given, so that requests no client
 * library would send can be sent; resolves on the first complete response or on close.
 */
function exchange(
  port: number,
  head: string,
  body: Buffer | string = "",
  keepOpen?: (socket: Socket) => void,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffered = Buffer.alloc(0);
    let parsed: Omit<RawResponse, "closed" | "body"> | null = null;
    let bodyStart = 0;
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      const text = buffered.subarray(bodyStart).toString("utf8");
      resolve({ status: parsed?.status ?? 0, headers: parsed?.headers ?? {}, body: text, closed });
      if (!keepOpen) socket.destroy();
    };
    socket.on("data", (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (parsed === null) {
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        const lines = buffered.subarray(0, end).toString("latin1").split("\r\n");
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const i = line.indexOf(":");
          headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
        }
        parsed = { status: Number(lines[0]?.split(" ")[1]), headers };
        bodyStart = end + 4;
      }
      const length = Number(parsed.headers["content-length"] ?? Number.NaN);
      if (!Number.isNaN(length) && buffered.length - bodyStart >= length) finish(false);
    });
    socket.on("close", () => finish(true));
    socket.on("error", (error) => (settled ? undefined : reject(error)));
    socket.write(head);
    if (body.length > 0) socket.write(body);
    keepOpen?.(socket);
  });
}

function request(method: string, path: string, headers: Record<string, string> = {}): string {
  // one request a connection: the answer is complete when the server closes it
  const all = { host: "bosun", authorization: `Bearer ${TOKEN}`, connection: "close", ...headers };
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(all)
    .filter(([, v]) => v !== "")
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
}

function post(path: string, body: Buffer | string, headers: Record<string, string> = {}) {
  return request("POST", path, {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    ...headers,
  });
}

interface Running {
  server: ApiServer;
  auditPath: string;
  auditLog: RotatingAuditLog;
  dir: string;
}

const POLICY = `
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/readyz"]
- level: RequestResponse
  resources: [{group: "", resources: ["configmaps"]}]
- level: Metadata
`;

async function startServer(
  inFlight: InFlightLimits,
  requestLimits: Partial<RequestLimits> = {},
): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "bosun-http-filters-"));
  const policyFile = join(dir, "policy.yaml");
  writeFileSync(policyFile, POLICY);
  const auditPath = join(dir, "audit.log");
  const auditLog = new RotatingAuditLog(auditPath, { maxFileBytes: 1 << 20, maxBackups: 1 }, () =>
    clock.wallMs(),
  );
  const server = await startInMemoryApiServer(clock, TOKEN, {
    audit: new Auditor(parseAuditPolicy(readFileSync(policyFile, "utf8")), auditLog, clock),
    inFlight,
    requestLimits,
  });
  return { server, auditPath, auditLog, dir };
}

async function stopServer(r: Running | undefined): Promise<void> {
  if (r === undefined) return;
  await r.server.stop();
  r.auditLog.close();
  rmSync(r.dir, { recursive: true, force: true });
}

function auditEvents(r: Running): Record<string, unknown>[] {
  r.auditLog.flush();
  return readFileSync(r.auditPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const CONFIGMAPS = "/api/v1/namespaces/default/configmaps";

describe("API server limits and bad input", () => {
  let r: Running;
  beforeAll(async () => {
    r = await startServer(
      { maxReadOnly: 50, maxMutating: 50, retryAfterSeconds: 1 },
      { headersTimeoutMs: 400, requestTimeoutMs: 800, timeoutCheckIntervalMs: 100 },
    );
  });
  afterAll(() => stopServer(r));

  it("a body declared over 3 MiB gets a 413 before a byte of it is sent, and the connection closes", async () => {
    const head = request("POST", CONFIGMAPS, {
      "content-type": "application/json",
      "content-length": String(3 * 1024 * 1024 + 1),
    });
    const res = await exchange(r.server.port, head);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ reason: "RequestEntityTooLarge", code: 413 });
    expect(res.closed || res.headers.connection === "close").toBe(true);
  });

  it("a chunked body that grows past 3 MiB gets a 413 once it does", async () => {
    const head = request("POST", CONFIGMAPS, {
      "content-type": "application/json",
      "transfer-encoding": "chunked",
    });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const res = await exchange(r.server.port, head, "", (socket) => {
      // 16 chunks of 256 KiB: 4 MiB, past the limit; the server may stop reading mid-way
      for (let i = 0; i < 16 && !socket.destroyed; i++) {
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write("\r\n");
      }
    });
    expect(res.status).toBe(413);
  });

  it("bytes that are not UTF-8, JSON nested too deep, and undecodable paths get a 400", async () => {
    const invalid = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const bad = await exchange(r.server.port, post(CONFIGMAPS, invalid), invalid);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/UTF-8/);
    const deep = `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`;
    const nested = await exchange(r.server.port, post(CONFIGMAPS, deep), deep);
    expect(nested.status).toBe(400);
    expect(nested.body).toMatch(/nests deeper/);
    // the YAML parser recurses per flow level: this much nesting once made it die out of memory
    const flow = `${"[".repeat(800_000)}${"]".repeat(800_000)}`;
    const yaml = await exchange(
      r.server.port,
      post(CONFIGMAPS, flow, { "content-type": "application/yaml" }),
      flow,
    );
    expect(yaml.status).toBe(400);
    expect(yaml.body).toMatch(/nests deeper/);
    const path = await exchange(r.server.port, request("GET", "/api/v1/namespaces/%E0%A4%A/pods"));
    expect(path.status).toBe(400);
  });

  it("malformed heads get Node's 400; a head over 32 KiB gets a 431", async () => {
    const badHeader = await exchange(
      r.server.port,
      "GET /api HTTP/1.1\r\nhost: x\r\nbad header name: 1\r\n\r\n",
    );
    expect(badHeader.status).toBe(400);
    const huge = await exchange(
      r.server.port,
      request("GET", "/api/v1/pods", { "x-pad": "a".repeat(40 * 1024) }),
    );
    expect(huge.status).toBe(431);
  });

  it("a slowloris client (headers never finished, or a body never finished) is cut off while others are served", async () => {
    const sockets: Socket[] = [];
    const headersNeverEnd = exchange(
      r.server.port,
      "GET /api/v1/pods HTTP/1.1\r\nhost: x\r\n",
      "",
      (s) => sockets.push(s),
    );
    const bodyNeverEnds = exchange(
      r.server.port,
      post(CONFIGMAPS, "x".repeat(100)),
      '{"metadata":',
      (s) => sockets.push(s),
    );
    try {
      const healthy = await exchange(r.server.port, request("GET", "/healthz"));
      expect(healthy.status).toBe(200);
      const [slowHead, slowBody] = await Promise.all([headersNeverEnd, bodyNeverEnds]);
      expect(slowHead.closed).toBe(true);
      expect([0, 408]).toContain(slowHead.status);
      expect(slowBody.closed).toBe(true);
      expect([0, 408]).toContain(slowBody.status);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

describe("max requests in flight", () => {
  let r: Running;
  beforeAll(async () => {
    r = await startServer({ maxReadOnly: 1, maxMutating: 1, retryAfterSeconds: 1 });
  });
  afterAll(() => stopServer(r));
  const held: Socket[] = [];
  afterEach(() => {
    for (const s of held) s.destroy();
    held.length = 0;
  });

  it("a full mutating level answers 429 with Retry-After; reads and health checks still go through", async () => {
    const body = JSON.stringify({ metadata: { name: "held" } });
    // the one mutating seat, held by a request whose body has not all arrived
    let holder: Socket | undefined;
    const holding = exchange(r.server.port, post(CONFIGMAPS, body), body.slice(0, 5), (s) => {
      holder = s;
      held.push(s);
    });
    await waitFor("the seat taken", async () => {
      const probe = await exchange(r.server.port, post(CONFIGMAPS, "{}"), "{}");
      return probe.status === 429;
    });
    const refused = await exchange(
      r.server.port,
      post(CONFIGMAPS, '{"metadata":{"name":"x"}}'),
      '{"metadata":{"name":"x"}}',
    );
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(JSON.parse(refused.body)).toMatchObject({
      kind: "Status",
      reason: "TooManyRequests",
      code: 429,
      details: { retryAfterSeconds: 1 },
    });
    expect((await exchange(r.server.port, request("GET", CONFIGMAPS))).status).toBe(200);
    const anonymous = request("GET", "/healthz", { authorization: "" });
    expect((await exchange(r.server.port, anonymous)).status).toBe(200);
    // the held request completes; its seat is free again
    holder?.write(body.slice(5));
    expect((await holding).status).toBe(201);
    const after = await exchange(
      r.server.port,
      post(CONFIGMAPS, '{"metadata":{"name":"after"}}'),
      '{"metadata":{"name":"after"}}',
    );
    expect(after.status).toBe(201);
  });

  it("audits at the policy's levels: bodies at RequestResponse, metadata only otherwise, the 429s too", async () => {
    const events = auditEvents(r);
    // RequestReceived is omitted by the policy; every event is a ResponseComplete
    expect(new Set(events.map((e) => e.stage))).toEqual(new Set(["ResponseComplete"]));
    const created = events.find(
      (e) =>
        e.verb === "create" &&
        (e.responseStatus as { code: number }).code === 201 &&
        (e.requestObject as { metadata: { name: string } }).metadata.name === "after",
    );
    expect(created).toMatchObject({
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: "RequestResponse",
      requestURI: CONFIGMAPS,
      user: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
      sourceIPs: ["127.0.0.1"],
      objectRef: { resource: "configmaps", namespace: "default", apiGroup: "", apiVersion: "v1" },
      responseObject: { kind: "ConfigMap", metadata: { name: "after", namespace: "default" } },
    });
    expect(typeof created?.auditID).toBe("string");
    expect(String(created?.stageTimestamp)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const refused = events.find((e) => (e.responseStatus as { code: number }).code === 429);
    expect(refused?.responseStatus).toMatchObject({ code: 429, reason: "TooManyRequests" });
    const health = events.find((e) => e.requestURI === "/healthz");
    expect(health).toMatchObject({
      level: "Metadata",
      verb: "get",
      user: { username: "system:anonymous" },
    });
    expect(health).not.toHaveProperty("objectRef");
    expect(health).not.toHaveProperty("requestObject");
  });

  it("the Audit-Id header names the request's events; a client's own id is kept", async () => {
    const res = await exchange(
      r.server.port,
      request("GET", "/api/v1/namespaces/default/configmaps/missing", {
        "audit-id": "client-id-1",
      }),
    );
    expect(res.status).toBe(404);
    expect(res.headers["audit-id"]).toBe("client-id-1");
    const ev = auditEvents(r).find((e) => e.auditID === "client-id-1");
    expect(ev).toMatchObject({
      verb: "get",
      objectRef: { name: "missing" },
      responseStatus: { code: 404, status: "Failure", reason: "NotFound" },
    });
    const none = await exchange(r.server.port, request("GET", "/readyz"));
    expect(none.headers["audit-id"]).toBeUndefined();
  });
});
