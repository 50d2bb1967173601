/**
 * The audit filter (apiserver's `WithAudit`): for each request the policy does not put at level
 * None, `audit.k8s.io/v1` Events at its stages — RequestReceived when it arrives, ResponseStarted
 * when a long-running response (a watch, a followed log) sends its headers, ResponseComplete
 * when the response ends — minus the stages the policy omits. Metadata is who did what to which
 * object and the answer's code; Request adds the request body; RequestResponse the response body
 * too (not for long-running responses, as in Kubernetes).
 *
 * The response is observed the way apiserver's `auditResponseWriter` does it, by wrapping the
 * response's `writeHead` and `end`; the request body is handed over by the server once decoded.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonValue } from "../api/json.ts";
import { microTime } from "../api/meta-time.ts";
import type { Clock } from "../system/clock.ts";
import { type AuditEvent, type AuditRequest, auditAttributes, objectRef } from "./audit-event.ts";
import type { AuditSink } from "./audit-log.ts";
import { type AuditPolicy, type AuditStage, auditDecision, levelAtLeast } from "./audit-policy.ts";

/** A client's own `Audit-ID` is kept (apiserver does), if it is a sane token. */
const CLIENT_AUDIT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Longest response body kept for the Status of a failed request at levels below RequestResponse. */
const MAX_STATUS_CAPTURE_BYTES = 64 * 1024;

export class Auditor {
  private lastMs = Number.NaN;
  private lastStamp = "";

  constructor(
    private readonly policy: AuditPolicy,
    private readonly sink: AuditSink,
    private readonly clock: Clock,
  ) {}

  /** The wall-clock time as a MicroTime; formatted once per millisecond (busy servers share them). */
  readonly timestamp = (): string => {
    const ms = this.clock.wallMs();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastStamp = microTime(ms);
    }
    return this.lastStamp;
  };

  /** Starts auditing one request; null when the policy records nothing of it. */
  begin(req: IncomingMessage, res: ServerResponse, request: AuditRequest): AuditRecord | null {
    const attrs = auditAttributes(request);
    const decision = auditDecision(this.policy, attrs);
    if (decision.level === "None") return null;
    const given = req.headers["audit-id"];
    const auditID = typeof given === "string" && CLIENT_AUDIT_ID.test(given) ? given : randomUUID();
    res.setHeader("audit-id", auditID);
    const now = this.timestamp();
    const userAgent = req.headers["user-agent"];
    const ref = objectRef(request.info);
    const event: AuditEvent = {
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level: decision.level,
      auditID,
      stage: "RequestReceived",
      requestURI: req.url ?? "/",
      verb: attrs.verb,
      user: { username: request.user.username, groups: [...request.user.groups] },
      sourceIPs: [req.socket.remoteAddress ?? ""],
      ...(userAgent !== undefined ? { userAgent } : {}),
      ...(ref !== undefined ? { objectRef: ref } : {}),
      requestReceivedTimestamp: now,
      stageTimestamp: now,
    };
    return new AuditRecord(
      event,
      decision.omitStages,
      request.longRunning,
      res,
      this.sink,
      this.timestamp,
    );
  }
}

/** One request's audit: emits its stages as the response goes out. */
export class AuditRecord {
  private captured: Buffer | string | null = null;

  constructor(
    private readonly event: AuditEvent,
    private readonly omit: ReadonlySet<AuditStage>,
    private readonly longRunning: boolean,
    res: ServerResponse,
    private readonly sink: AuditSink,
    private readonly timestamp: () => string,
  ) {
    this.emit("RequestReceived");
    this.observe(res);
  }

  /** The decoded request body, kept at level Request and above. */
  setRequestObject(body: JsonValue): void {
    if (levelAtLeast(this.event.level, "Request")) this.event.requestObject = body;
  }

  private observe(res: ServerResponse): void {
    const writeHead = res.writeHead;
    const record = this;
    // wraps, as auditResponseWriter does: the code is known when headers go out
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      const out = writeHead.apply(this, args as Parameters<typeof writeHead>);
      record.responseStarted(args[0] as number);
      return out;
    } as typeof res.writeHead;
    if (!this.longRunning) {
      const end = res.end;
      res.end = function (this: ServerResponse, ...args: unknown[]) {
        record.capture(this.statusCode, args[0]);
        return end.apply(this, args as Parameters<typeof end>);
      } as typeof res.end;
    }
    res.once("close", () => this.complete(res.statusCode));
  }

  private responseStarted(code: number): void {
    this.event.responseStatus = { metadata: {}, code };
    if (this.longRunning) this.emit("ResponseStarted");
  }

  private capture(code: number, chunk: unknown): void {
    const wanted =
      this.event.level === "RequestResponse" ||
      (code >= 400 && typeof chunk !== "function" && chunk !== undefined);
    if (!wanted) return;
    if (typeof chunk === "string" || Buffer.isBuffer(chunk)) {
      if (this.event.level !== "RequestResponse" && chunk.length > MAX_STATUS_CAPTURE_BYTES) return;
      this.captured = chunk;
    }
  }

  private complete(code: number): void {
    const status: NonNullable<AuditEvent["responseStatus"]> = { metadata: {}, code };
    const body = this.parsedResponse();
    if (body !== undefined && isStatus(body)) {
      if (typeof body.status === "string") status.status = body.status;
      if (typeof body.message === "string") status.message = body.message;
      if (typeof body.reason === "string") status.reason = body.reason;
    }
    this.event.responseStatus = status;
    if (this.event.level === "RequestResponse" && body !== undefined)
      this.event.responseObject = body;
    this.emit("ResponseComplete");
  }

  private parsedResponse(): JsonValue | undefined {
    if (this.captured === null) return undefined;
    try {
      return JSON.parse(this.captured.toString()) as JsonValue;
    } catch {
      return undefined;
    }
  }

  private emit(stage: AuditStage): void {
    if (this.omit.has(stage)) return;
    this.event.stage = stage;
    this.event.stageTimestamp = this.timestamp();
    this.sink.write(JSON.stringify(this.event));
  }
}

function isStatus(v: JsonValue): v is { [k: string]: JsonValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && v.kind === "Status";
}
