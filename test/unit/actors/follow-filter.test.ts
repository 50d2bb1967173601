/**
 * What an inspection follower gets (actors/system/follow-filter.ts): one actor with its invoked
 * children, a list, or everything; in changesOnly mode, only actor creations and snapshots whose
 * state or status moved. And the browser inspector's event history built from such records.
 */
import { describe, expect, it } from "vitest";
import { EventHistory } from "../../../actors/inspector/page/event-history.ts";
import { followMatcher } from "../../../actors/system/follow-filter.ts";
import type { InspectionRecord } from "../../../actors/system/inspection-ring.ts";

let seq = 0;
const rec = (
  address: string,
  kind: InspectionRecord["kind"],
  extra: Partial<InspectionRecord> = {},
) =>
  ({
    seq: ++seq,
    nodeId: "n1",
    address,
    term: null,
    atMs: seq,
    kind,
    ...extra,
  }) as InspectionRecord;

describe("follow filters", () => {
  it("matches an actor and the actors it invoked, not its namesakes", () => {
    const wants = followMatcher({ address: "n1/raft" });
    expect(wants(rec("n1/raft", "@xstate.event"))).toBe(true);
    expect(wants(rec("n1/raft.timer", "@xstate.event"))).toBe(true);
    expect(wants(rec("n1/raft-2", "@xstate.event"))).toBe(false);
    const list = followMatcher({ addresses: ["n1/a", "n1/b"] });
    expect(list(rec("n1/b", "@xstate.snapshot"))).toBe(true);
    expect(list(rec("n1/c", "@xstate.snapshot"))).toBe(false);
  });

  it("in changesOnly mode passes creations and state changes, not repeats or events", () => {
    const wants = followMatcher({ changesOnly: true });
    const snap = (state: unknown, status = "active") =>
      wants(rec("n1/a", "@xstate.snapshot", { state, status }));
    expect(wants(rec("n1/a", "@xstate.actor"))).toBe(true);
    expect(snap("idle")).toBe(true);
    expect(snap("idle")).toBe(false);
    expect(wants(rec("n1/a", "@xstate.event", { eventType: "tick" }))).toBe(false);
    expect(snap({ role: "leader" })).toBe(true);
    expect(snap({ role: "leader" }, "stopped")).toBe(true);
  });
});

describe("event history (the page's log and time travel)", () => {
  it("makes one row per event with the state before and after, ignoring repeats", () => {
    const h = new EventHistory("n1/a", "idle", 3);
    const event = rec("n1/a", "@xstate.event", { eventType: "go", from: "n2/b" });
    h.add(event);
    h.add(rec("n1/a", "@xstate.microstep", { state: "busy" }));
    h.add(rec("n1/a", "@xstate.snapshot", { state: "busy" }));
    h.add(event); // the same record again (history and stream overlap)
    expect(h.rows).toHaveLength(1);
    expect(h.rows[0]).toMatchObject({ event: "go", source: "n2/b", before: "idle", after: "busy" });
    expect(EventHistory.changed(h.rows[0] as never)).toBe(true);
    for (let i = 0; i < 5; i++) {
      h.add(rec("n1/a", "@xstate.event", { eventType: "tick" }));
      h.add(rec("n1/a", "@xstate.snapshot", { state: "busy" }));
    }
    expect(h.rows).toHaveLength(3);
    expect(h.dropped).toBe(3);
    expect(EventHistory.changed(h.rows[2] as never)).toBe(false);
  });
});
