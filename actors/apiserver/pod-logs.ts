/**
 * The pods/log subresource (`kubectl logs`): its options as kube-apiserver reads and validates
 * them (PodLogOptions), the container it names, and — with `follow=true` (`kubectl logs -f`) —
 * the log as a chunked text/plain stream: what is there, then what the container writes, until
 * the container exits, the pod is gone from its kubelet, the client disconnects or the server
 * stops. `timestamps`, `sinceSeconds` and `sinceTime` are not honoured: a container writes
 * straight to its log file, so no time is known per line.
 *
 * kube-apiserver proxies a stream the kubelet holds open; bosun's API server instead asks the
 * pod's kubelet again every POD_LOG_FOLLOW_POLL_MS (on the injected clock) for the bytes after
 * the last read of the same container attempt. Everything stays bounded: one ask in flight per
 * stream, at most the kubelet's maxLogReadBytes per answer, the next ask only once the client
 * has taken the last chunk (backpressure), and at most maxLogFollowers streams per kubelet (the
 * stream's `follower` id counts against it; the slot is freed when the stream ends).
 */
import { randomUUID } from "node:crypto";
import { asObject, type JsonObject } from "../api/json.ts";
import type { KubeletLogsRequest } from "../api/kubelet-protocol.ts";
import {
  badRequestStatus,
  invalidStatus,
  methodNotAllowedStatus,
  notFoundStatus,
  tooManyRequestsStatus,
} from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import type { Clock } from "../system/clock.ts";
import { readObject } from "./guaranteed-update.ts";
import type { ObjectStore } from "./object-store.ts";
import type { RequestOptions } from "./request-options.ts";
import type { HandlerResult, RequestInput, TextSink } from "./rest-request.ts";

/** How often a followed log asks its kubelet for new bytes. */
export const POD_LOG_FOLLOW_POLL_MS = 250;

/** One read of a pod's log on its node: the kubelet's `kubelet.logs` ask, and where to send it. */
export type PodLogRead = KubeletLogsRequest & { node: string };

export type PodLogReply =
  | { text: string; nextByte: number; attempt: number; more: boolean }
  | { refused: "BadRequest" | "NotFound" | "TooManyRequests"; message: string };

/** How the API server reaches kubelets for pods/log (over the actor system). */
export interface PodLogs {
  read(request: PodLogRead): Promise<PodLogReply>;
  /** The followed stream `follower` on `node` ended: its slot is free now. */
  unfollow(node: string, follower: string): void;
}

/** PodLogOptions as bosun honours them. */
export interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  tailLines?: number;
  limitBytes?: number;
}

/**
 * The request's PodLogOptions (typed by request-options.ts), validated as kube-apiserver does
 * (ValidatePodLogOptions: 422 when tailLines < 0 or limitBytes < 1).
 */
export function parsePodLogOptions(query: RequestOptions, podName: string): PodLogOptions {
  const options: PodLogOptions = {
    follow: query.follow === true,
    previous: query.previous === true,
  };
  if (query.container) options.container = query.container;
  const { tailLines, limitBytes } = query;
  const errors = [];
  if (tailLines !== undefined && tailLines < 0)
    errors.push({
      type: "FieldValueInvalid" as const,
      field: "tailLines",
      badValue: tailLines,
      detail: "must be greater than or equal to 0",
    });
  if (limitBytes !== undefined && limitBytes < 1)
    errors.push({
      type: "FieldValueInvalid" as const,
      field: "limitBytes",
      badValue: limitBytes,
      detail: "must be greater than 0",
    });
  if (errors.length > 0)
    throw new ApiError(invalidStatus({ group: "", kind: "PodLogOptions" }, podName, errors));
  if (tailLines !== undefined) options.tailLines = tailLines;
  if (limitBytes !== undefined) options.limitBytes = limitBytes;
  return options;
}

/**
 * The container a log request reads (kube-apiserver's validateContainer): the named one, which
 * must exist; unnamed, the pod's only container.
 */
export function podLogContainer(pod: JsonObject, container: string | undefined): string {
  const name = String(asObject(pod.metadata).name ?? "");
  const names = ((asObject(pod.spec).containers ?? []) as JsonObject[]).map((c) => String(c.name));
  if (container !== undefined) {
    if (!names.includes(container))
      throw new ApiError(badRequestStatus(`container ${container} is not valid for pod ${name}`));
    return container;
  }
  if (names.length === 1) return names[0]!;
  if (names.length === 0)
    throw new ApiError(badRequestStatus(`a container name must be specified for pod ${name}`));
  throw new ApiError(
    badRequestStatus(
      `a container name must be specified for pod ${name}, choose one of: [${names.join(" ")}]`,
    ),
  );
}

/**
 * Streams what `first` (already answered by `firstReply` and sent) is followed by, until there
 * is no more, the kubelet refuses or does not answer, `limitBytes` is used up, or the sink is
 * aborted. Frees the follower's slot on the kubelet however it ends.
 */
export async function followPodLog(
  logs: PodLogs,
  clock: Clock,
  first: PodLogRead & { follower: string },
  firstReply: { text: string; nextByte: number; attempt: number; more: boolean },
  sink: TextSink,
): Promise<void> {
  let last = firstReply;
  let bytesLeft =
    first.limitBytes === undefined
      ? undefined
      : first.limitBytes - Buffer.byteLength(firstReply.text);
  try {
    while (last.more && !sink.signal.aborted && (bytesLeft === undefined || bytesLeft > 0)) {
      await pause(clock, POD_LOG_FOLLOW_POLL_MS, sink.signal);
      if (sink.signal.aborted) return;
      const { tailLines: _firstReadOnly, ...rest } = first;
      const reply = await logs
        .read({
          ...rest,
          attempt: last.attempt,
          sinceByte: last.nextByte,
          ...(bytesLeft !== undefined ? { limitBytes: bytesLeft } : {}),
        })
        .catch(() => null);
      // the pod left its kubelet, or the kubelet is gone: the stream ends, as Kubernetes' does
      if (reply === null || "refused" in reply) return;
      if (reply.text !== "") {
        if (bytesLeft !== undefined) bytesLeft -= Buffer.byteLength(reply.text);
        await sink.write(reply.text);
      }
      last = reply;
    }
  } finally {
    logs.unfollow(first.node, first.follower);
  }
}

/** Waits `ms` on `clock`, or less when `signal` aborts (the timer is then cleared). */
function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      signal.removeEventListener("abort", aborted);
      resolve();
    };
    const aborted = () => {
      clock.clearTimeout(timer);
      done();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener("abort", aborted, { once: true });
  });
}

/**
 * Serves a pods/log GET: asks the kubelet of the pod's node for `container`, `previous`,
 * `tailLines`, `limitBytes`, and with `follow` streams the rest as it comes (followPodLog).
 * Without a way to reach kubelets (`logs` absent) it says so with a 404.
 */
export async function servePodLog(
  store: ObjectStore,
  clock: Clock,
  logs: PodLogs | undefined,
  input: RequestInput,
): Promise<HandlerResult> {
  const req = input.request;
  if (logs === undefined) {
    const message = `pods "${req.name ?? ""}" log: logs are served by the kubelet, and no kubelet serves this pod yet`;
    throw new ApiError({
      ...notFoundStatus({ group: "", resource: "pods" }, req.name ?? ""),
      message,
    });
  }
  if (req.verb !== "get")
    throw new ApiError(methodNotAllowedStatus({ group: "", resource: "pods/log" }, req.verb));
  const pod = (await readObject(store, { ...req, subresource: null })).object;
  const options = parsePodLogOptions(input.options, req.name ?? "");
  const container = podLogContainer(pod, options.container);
  const node = asObject(pod.spec).nodeName;
  if (typeof node !== "string" || node === "")
    throw new ApiError(badRequestStatus(`pod "${req.name}" does not have a host assigned`));
  const read: PodLogRead = {
    node,
    namespace: req.namespace ?? "default",
    pod: req.name ?? "",
    container,
    previous: options.previous,
    ...(options.tailLines !== undefined ? { tailLines: options.tailLines } : {}),
    ...(options.limitBytes !== undefined ? { limitBytes: options.limitBytes } : {}),
  };
  const follower = options.follow ? randomUUID() : undefined;
  let reply: PodLogReply;
  try {
    reply = await logs.read(follower ? { ...read, follower } : read);
  } catch (error) {
    if (follower) logs.unfollow(node, follower);
    throw new ApiError(
      badRequestStatus(`logs of pod "${req.name}" on node ${node}: ${(error as Error).message}`),
    );
  }
  if ("refused" in reply) {
    if (follower) logs.unfollow(node, follower);
    throw new ApiError(
      reply.refused === "TooManyRequests"
        ? tooManyRequestsStatus(reply.message, 1)
        : badRequestStatus(reply.message),
    );
  }
  if (!follower || !reply.more) {
    if (follower) logs.unfollow(node, follower);
    return { code: 200, body: null, text: reply.text };
  }
  const first = reply;
  return {
    code: 200,
    body: null,
    text: reply.text,
    stream: (sink) => followPodLog(logs, clock, { ...read, follower }, first, sink),
  };
}
