/**
 * The Events the kubelet records about a pod and its containers, with Kubernetes' reasons and
 * messages (pkg/kubelet/events), so that `kubectl describe pod` tells what happened: the image
 * pull (Pulling, Pulled, Failed with the pull error, BackOff and Failed ImagePullBackOff), the
 * container's creation and start (Created, Started; Failed for CreateContainerConfigError or a
 * start error), restarts (BackOff), probes (Unhealthy) and stops (Killing), and volumes
 * (FailedMount). Container events name their part: `spec.containers{<name>}`.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import type { EventType } from "../client/event-builder.ts";
import { type EventRecorder, withTypeMeta } from "../client/event-recorder.ts";

/** Probe kinds as Kubernetes capitalizes them in Unhealthy messages. */
export type ProbeKind = "Liveness" | "Readiness" | "Startup";

export class PodEvents {
  private readonly object: JsonObject;

  constructor(
    private readonly recorder: EventRecorder,
    pod: JsonObject,
  ) {
    this.object = withTypeMeta(pod, "v1", "Pod");
  }

  private container(name: string, type: EventType, reason: string, message: string): void {
    this.recorder.event(this.object, type, reason, message, `spec.containers{${name}}`);
  }

  pulling(container: string, image: string): void {
    this.container(container, "Normal", "Pulling", `Pulling image "${image}"`);
  }

  pulled(container: string, image: string, tookMs: number): void {
    const took = `${(tookMs / 1000).toFixed(3)}s`;
    this.container(
      container,
      "Normal",
      "Pulled",
      `Successfully pulled image "${image}" in ${took} (${took} including waiting)`,
    );
  }

  /** Kubernetes records the pull error, then `Error: ErrImagePull`. */
  pullFailed(container: string, image: string, message: string): void {
    this.container(container, "Warning", "Failed", `Failed to pull image "${image}": ${message}`);
    this.container(container, "Warning", "Failed", "Error: ErrImagePull");
  }

  pullBackOff(container: string, image: string): void {
    this.container(container, "Normal", "BackOff", `Back-off pulling image "${image}"`);
    this.container(container, "Warning", "Failed", "Error: ImagePullBackOff");
  }

  /** CreateContainerConfigError, RunContainerError: `Error: <why>`. */
  failed(container: string, message: string): void {
    this.container(container, "Warning", "Failed", `Error: ${message}`);
  }

  created(container: string): void {
    this.container(container, "Normal", "Created", `Created container: ${container}`);
  }

  started(container: string): void {
    this.container(container, "Normal", "Started", `Started container ${container}`);
  }

  crashLoopBackOff(container: string): void {
    const meta = asObject(this.object.metadata);
    const pod = `${asString(meta.name)}_${asString(meta.namespace) || "default"}(${asString(meta.uid)})`;
    this.container(
      container,
      "Warning",
      "BackOff",
      `Back-off restarting failed container ${container} in pod ${pod}`,
    );
  }

  unhealthy(container: string, kind: ProbeKind, detail: string): void {
    this.container(container, "Warning", "Unhealthy", `${kind} probe failed: ${detail}`);
  }

  /** `why`: Kubernetes' reason for the kill, e.g. "failed liveness probe, will be restarted". */
  killing(container: string, why?: string): void {
    this.container(
      container,
      "Normal",
      "Killing",
      why ? `Container ${container} ${why}` : `Stopping container ${container}`,
    );
  }

  failedMount(message: string): void {
    this.recorder.event(this.object, "Warning", "FailedMount", message);
  }

  /** A pod-level warning (e.g. the kubelet cannot honour part of the spec). */
  warning(reason: string, message: string): void {
    this.recorder.event(this.object, "Warning", reason, message);
  }
}

const NO_EVENTS: EventRecorder = { event: () => {} };

/** The pod's events through `recorder` (none without one: unit tests, hollow nodes). */
export function podEventsFor(recorder: EventRecorder | undefined, pod: JsonObject): PodEvents {
  return new PodEvents(recorder ?? NO_EVENTS, pod);
}

/** What a failed probe tried, for its Unhealthy message (the probe's output is not kept). */
export function probeFailureDetail(probe: JsonObject, podIP: string): string {
  if (probe.exec) {
    const command = ((asObject(probe.exec).command ?? []) as unknown[]).map(String).join(" ");
    return `command "${command}" exited with a non-zero code`;
  }
  if (probe.httpGet) {
    const get = asObject(probe.httpGet);
    const host = asString(get.host) || podIP;
    return `HTTP probe failed: GET http://${host}:${String(get.port)}${asString(get.path) || "/"}`;
  }
  if (probe.tcpSocket) {
    const tcp = asObject(probe.tcpSocket);
    return `dial tcp ${asString(tcp.host) || podIP}:${String(tcp.port)}: no connection`;
  }
  return "unknown probe";
}
