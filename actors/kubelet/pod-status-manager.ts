/**
 * The status manager (Kubernetes' status_manager.go): pod statecharts report their status as
 * often as it changes; this keeps the latest per pod and patches `pods/<name>/status`, at most
 * one patch per pod and `maxInFlight` overall at a time, skipping unchanged statuses. Condition
 * transition times are carried over while a condition keeps its status. A pod that is gone
 * (404) is forgotten.
 *
 * What the API holds is checked against what was sent (status_manager.go's needsReconcile): a
 * patch whose outcome was unknown (a timeout) is sent again, and the first attempt may still
 * land after the newer status — an API server cut off from the Raft leader applies it once the
 * partition heals — leaving the pod Pending or not Ready for good, since an unchanged status is
 * never sent twice. So every version of the pod the informer delivers is compared on the
 * fields only the kubelet writes (phase and the Ready condition), and a difference re-sends.
 */
import { asObject, type JsonObject, jsonEqual } from "../api/json.ts";
import type { ApiClient } from "../client/api-client.ts";
import { isNotFound } from "../client/errors.ts";
import { carryTransitionTimes } from "./pod-status.ts";

interface PodEntry {
  namespace: string;
  name: string;
  sent: JsonObject | null;
  /** The resourceVersion our last acknowledged patch made: older versions say nothing. */
  sentRevision: number;
  wanted: JsonObject | null;
  inFlight: boolean;
}

export class PodStatusManager {
  private readonly pods = new Map<string, PodEntry>();
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly api: Pick<ApiClient, "patch">,
    private readonly maxInFlight: number,
    private readonly onError: (error: unknown, pod: string) => void = () => {},
  ) {}

  report(uid: string, namespace: string, name: string, status: JsonObject): void {
    let entry = this.pods.get(uid);
    if (!entry) {
      entry = { namespace, name, sent: null, sentRevision: 0, wanted: null, inFlight: false };
      this.pods.set(uid, entry);
    }
    const next = carryTransitionTimes(entry.wanted ?? entry.sent, status);
    if (jsonEqual(next, entry.wanted ?? entry.sent ?? undefined)) return;
    entry.wanted = next;
    this.pump();
  }

  /** The last status this pod was given (sent or not). */
  latest(uid: string): JsonObject | null {
    const entry = this.pods.get(uid);
    return entry ? (entry.wanted ?? entry.sent) : null;
  }

  /**
   * A version of the pod from the API (an informer event): when nothing is pending for it, the
   * version is newer than our last acknowledged patch and its status disagrees with that
   * patch, sends it again.
   */
  reconcile(uid: string, pod: JsonObject): void {
    const entry = this.pods.get(uid);
    if (!entry || entry.inFlight || entry.wanted !== null || entry.sent === null) return;
    if (revisionOf(pod) <= entry.sentRevision) return;
    if (kubeletFieldsAgree(entry.sent, asObject(pod.status))) return;
    entry.wanted = entry.sent;
    this.pump();
  }

  forget(uid: string): void {
    this.pods.delete(uid);
  }

  private pump(): void {
    for (const [uid, entry] of this.pods) {
      if (this.inFlight >= this.maxInFlight) return;
      if (entry.inFlight || entry.wanted === null) continue;
      const status = entry.wanted;
      entry.wanted = null;
      entry.inFlight = true;
      this.inFlight++;
      this.api
        .patch(
          "pods",
          entry.name,
          "merge",
          { status },
          { namespace: entry.namespace, subresource: "status" },
        )
        .then(
          (patched) => {
            entry.sent = status;
            entry.sentRevision = revisionOf(patched);
          },
          (error: unknown) => {
            if (isNotFound(error)) {
              this.pods.delete(uid);
              return;
            }
            this.onError(error, `${entry.namespace}/${entry.name}`);
            // try again with the newest status (or this one) on the next pump
            if (entry.wanted === null) entry.wanted = status;
          },
        )
        .finally(() => {
          entry.inFlight = false;
          this.inFlight--;
          if (this.inFlight === 0 && [...this.pods.values()].every((e) => e.wanted === null))
            for (const w of this.idleWaiters.splice(0)) w();
          this.pump();
        });
    }
  }
}

/** The status fields no one but the kubelet writes: the phase and the Ready condition. */
function kubeletFieldsAgree(sent: JsonObject, apiStatus: JsonObject): boolean {
  const ready = (s: JsonObject) =>
    (Array.isArray(s.conditions) ? s.conditions : []).find(
      (c) => (c as { type?: unknown } | null)?.type === "Ready",
    ) as { status?: unknown } | undefined;
  return sent.phase === apiStatus.phase && ready(sent)?.status === ready(apiStatus)?.status;
}

function revisionOf(pod: JsonObject): number {
  const rv = Number(asObject(pod.metadata).resourceVersion);
  return Number.isSafeInteger(rv) ? rv : 0;
}
