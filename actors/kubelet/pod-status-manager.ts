/**
 * The status manager (Kubernetes' status_manager.go): pod statecharts report their status as
 * often as it changes; this keeps the latest per pod and patches `pods/<name>/status`, at most
 * one patch per pod and `maxInFlight` overall at a time, skipping unchanged statuses. Condition
 * transition times are carried over while a condition keeps its status. A pod that is gone
 * (404) is forgotten.
 */
import { type JsonObject, jsonEqual } from "../api/json.ts";
import type { ApiClient } from "../client/api-client.ts";
import { isNotFound } from "../client/errors.ts";
import { carryTransitionTimes } from "./pod-status.ts";

interface PodEntry {
  namespace: string;
  name: string;
  sent: JsonObject | null;
  wanted: JsonObject | null;
  inFlight: boolean;
}

export class PodStatusManager {
  private readonly pods = new Map<string, PodEntry>();
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly api: ApiClient,
    private readonly maxInFlight: number,
    private readonly onError: (error: unknown, pod: string) => void = () => {},
  ) {}

  report(uid: string, namespace: string, name: string, status: JsonObject): void {
    let entry = this.pods.get(uid);
    if (!entry) {
      entry = { namespace, name, sent: null, wanted: null, inFlight: false };
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
          () => {
            entry.sent = status;
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
