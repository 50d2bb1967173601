/**
 * The event recorder (client-go's EventRecorder and EventCorrelator): one builder, repeats
 * counted into the first Event (`count`, `lastTimestamp`, same name), similar events combined
 * after 10 in the aggregation window, a spam filter per object, and the writes the API sees.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { buildEvent } from "../../../actors/client/event-builder.ts";
import {
  COMBINED_EVENT_PREFIX,
  DEFAULT_EVENT_CORRELATOR_LIMITS,
  EventCorrelator,
} from "../../../actors/client/event-correlator.ts";
import { EventBroadcaster } from "../../../actors/client/event-recorder.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi, settle } from "../controllers/fake-api.ts";

const POD: JsonObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web", namespace: "shop", uid: "u1", resourceVersion: "7" },
};
const NODE: JsonObject = { apiVersion: "v1", kind: "Node", metadata: { name: "n1", uid: "n" } };

let serial = 0;
function event(message: string, reason = "BackOff", object: JsonObject = POD): JsonObject {
  return buildEvent(object, {
    type: "Warning",
    reason,
    message,
    component: "kubelet",
    host: "n1",
    nowIso: `2024-01-01T00:00:${String(serial % 60).padStart(2, "0")}Z`,
    uniqueSuffix: String(++serial),
  });
}

describe("buildEvent (client-go's makeEvent)", () => {
  it("points at the object and its part; cluster-scoped objects' events go to default", () => {
    const e = buildEvent(POD, {
      type: "Normal",
      reason: "Started",
      message: "Started container web",
      component: "kubelet",
      host: "n1",
      fieldPath: "spec.containers{web}",
      nowIso: "2024-01-01T00:00:00Z",
      uniqueSuffix: "abc",
    });
    expect(e).toMatchObject({
      metadata: { name: "web.abc", namespace: "shop" },
      involvedObject: { kind: "Pod", name: "web", namespace: "shop", uid: "u1" },
      source: { component: "kubelet", host: "n1" },
      count: 1,
    });
    expect((e.involvedObject as JsonObject).fieldPath).toBe("spec.containers{web}");
    const n = event("Node n1 status is now: NodeReady", "NodeReady", NODE);
    expect((n.metadata as JsonObject).namespace).toBe("default");
    expect((n.involvedObject as JsonObject).namespace).toBeUndefined();
  });
});

describe("EventCorrelator (client-go's events_cache.go)", () => {
  it("an identical event raises the first one's count and keeps its name", () => {
    const c = new EventCorrelator();
    const first = c.correlate(event("Back-off restarting failed container"), 0);
    const second = c.correlate(event("Back-off restarting failed container"), 1_000);
    expect(first).toMatchObject({ skip: false, repeat: false });
    if (first.skip || second.skip) throw new Error("skipped");
    expect(second.repeat).toBe(true);
    expect(second.event.count).toBe(2);
    expect((second.event.metadata as JsonObject).name).toBe(
      (first.event.metadata as JsonObject).name,
    );
    expect(second.event.firstTimestamp).toBe(first.event.firstTimestamp);
    expect(first.event.series).toBeUndefined();
    expect(second.event.series).toEqual({
      count: 2,
      lastObservedTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
    });
  });

  it("from the 10th similar event in the window on, they are combined into one", () => {
    const c = new EventCorrelator();
    const results = Array.from({ length: 12 }, (_, i) =>
      c.correlate(event(`Liveness probe failed: attempt ${i}`, "Unhealthy"), i),
    );
    const messages = results.map((r) => (r.skip ? "" : String(r.event.message)));
    expect(messages.slice(0, 9).every((m) => !m.startsWith(COMBINED_EVENT_PREFIX))).toBe(true);
    expect(messages[9]).toBe(`${COMBINED_EVENT_PREFIX}Liveness probe failed: attempt 9`);
    const tenth = results[9];
    const twelfth = results[11];
    if (tenth?.skip !== false || twelfth?.skip !== false) throw new Error("skipped");
    expect(twelfth.repeat).toBe(true);
    expect(twelfth.event.count).toBe(3);
    expect((twelfth.event.metadata as JsonObject).name).toBe(
      (tenth.event.metadata as JsonObject).name,
    );
  });

  it("the spam filter lets a burst through per object, then one per refill period", () => {
    const limits = { ...DEFAULT_EVENT_CORRELATOR_LIMITS, spamBurst: 3, spamRefillMs: 1_000 };
    const c = new EventCorrelator(limits);
    const at = (ms: number, message: string) => c.correlate(event(message, "Pulled"), ms).skip;
    expect([at(0, "a"), at(0, "b"), at(0, "c"), at(0, "d")]).toEqual([false, false, false, true]);
    // another object has its own bucket
    expect(c.correlate(event("a", "Pulled", NODE), 0).skip).toBe(false);
    expect(at(999, "e")).toBe(true);
    expect(at(2_000, "f")).toBe(false);
  });
});

describe("EventBroadcaster", () => {
  it("creates the first event and updates it for a repeat: one Event, count 2", async () => {
    const api = new FakeApi();
    const clock = new ManualClock();
    const broadcaster = new EventBroadcaster({ api, clock });
    const recorder = broadcaster.newRecorder({ component: "kubelet", host: "n1" });
    recorder.event(POD, "Warning", "BackOff", "Back-off restarting failed container web");
    await settle();
    clock.advance(5_000);
    recorder.event(POD, "Warning", "BackOff", "Back-off restarting failed container web");
    recorder.event(POD, "Normal", "Pulled", 'Container image "busybox" already present');
    await settle();
    const events = api.all("events", "shop");
    expect(events).toHaveLength(2);
    const backoff = events.find((e) => e.reason === "BackOff");
    expect(backoff).toMatchObject({ count: 2, source: { component: "kubelet", host: "n1" } });
    expect(backoff?.lastTimestamp).not.toBe(backoff?.firstTimestamp);
  });
});
