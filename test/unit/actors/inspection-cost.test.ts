/**
 * What inspection costs when nobody watches, and what a watcher can make it cost (issue 19):
 * records nobody reads keep only their cheap fields; a reader or follower gets payloads; a
 * follower gets a turn's records in one bounded batch and never its own deliveries back.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { setup } from "xstate";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import type { InspectionRecord } from "../../../actors/system/inspection-ring.ts";
import type { ActorMessage } from "../../../actors/system/message.ts";
import { Introspection } from "../../../cmd/node/introspection.ts";

const sink = setup({}).createMachine({ id: "sink", on: { work: {} } });

function systemWith(limits: ConstructorParameters<typeof ActorSystem>[0]["limits"] = {}) {
  const clock = new ManualClock();
  const system = new ActorSystem({
    nodeId: "n1",
    clock,
    logger: pino({ level: "silent" }),
    limits,
  });
  system.spawn("worker", sink);
  return { clock, system };
}

/** Lets every queued local delivery (and what it queues in turn) run. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function workPayloads(system: ActorSystem): unknown[] {
  return system.ring
    .read(0)
    .records.filter((r) => r.kind === "@xstate.event" && r.eventType === "work")
    .map((r) => r.payload);
}

describe("inspection cost", () => {
  it("an event nobody reads enters the ring without its payload; a reader's next ones with it", async () => {
    const { clock, system } = systemWith({ inspectionReaderGraceMs: 1_000 });
    system.tell("n1/test", "n1/worker", "work", { n: 1 });
    await settle();
    expect(workPayloads(system)).toEqual([undefined]);

    system.readInspection(0);
    system.tell("n1/test", "n1/worker", "work", { n: 2 });
    await settle();
    expect(workPayloads(system)).toEqual([undefined, { body: { n: 2 } }]);

    clock.advance(1_001); // the reader went away
    system.tell("n1/test", "n1/worker", "work", { n: 3 });
    await settle();
    expect(workPayloads(system).at(-1)).toBeUndefined();

    const off = system.ring.subscribe(() => {}); // a live follower
    system.tell("n1/test", "n1/worker", "work", { n: 4 });
    await settle();
    off();
    expect(workPayloads(system).at(-1)).toEqual({ body: { n: 4 } });
  });

  it("a follower gets a turn's records in one tell, and not the records of its own deliveries", async () => {
    const { system } = systemWith();
    const introspection = new Introspection(system, () => ({}), false);
    const batches: InspectionRecord[][] = [];
    const collect = (records: InspectionRecord[]) => {
      batches.push(records);
      // a follower fed its own deliveries never stops (microtasks all the way): cut it here so
      // that the test fails on its expectations instead of hanging
      if (batches.length > 10) introspection.stop();
    };
    const collector = setup({
      types: { events: {} as ActorMessage<"inspect.records", InspectionRecord[]> },
      actions: { collect: ({ event }) => collect(event.body) },
    }).createMachine({ id: "collector", on: { "inspect.records": { actions: "collect" } } });
    system.spawn("collector", collector);
    expect(introspection.follow("n1/collector", {})).toBeNull();

    const worker = system.actorRef("worker");
    for (let n = 0; n < 3; n++) worker?.send({ type: "work", n });
    await settle();
    // 3 events, each an event, a microstep and a snapshot record
    expect(batches.map((b) => b.length)).toEqual([9]);
    expect(batches[0]?.filter((r) => r.kind === "@xstate.event").map((r) => r.payload)).toEqual([
      { n: 0 },
      { n: 1 },
      { n: 2 },
    ]);
    await settle(); // the collector's handling of that batch was recorded, and not sent on
    expect(batches).toHaveLength(1);
    introspection.stop();
  });

  it("a follower's batch is bounded however many records a turn makes", async () => {
    const { system } = systemWith({ maxFollowBatchRecords: 4 });
    const sizes: number[] = [];
    const collector = setup({
      types: { events: {} as ActorMessage<"inspect.records", InspectionRecord[]> },
      actions: { collect: ({ event }) => void sizes.push(event.body.length) },
    }).createMachine({ id: "collector", on: { "inspect.records": { actions: "collect" } } });
    system.spawn("collector", collector);
    const introspection = new Introspection(system, () => ({}), false);
    introspection.follow("n1/collector", { address: "n1/worker" });
    const worker = system.actorRef("worker");
    for (let n = 0; n < 100; n++) worker?.send({ type: "work", n });
    await settle();
    expect(sizes).toEqual([4]);
    expect(system.ring.nextSeq).toBeGreaterThan(300); // the ring still has them all
    introspection.stop();
  });
});
