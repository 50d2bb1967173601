/**
 * The event sink (client-go's broadcaster and sink): at most maxInFlight creates at once, a
 * bounded queue that drops (and counts) what does not fit, failures reported and not retried,
 * and nothing written after stop.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { EventSink } from "../../../actors/client/event-sink.ts";

function event(name: string, namespace = "default"): JsonObject {
  return { metadata: { name, namespace }, reason: "Scheduled" };
}

/** A write per call that the test settles by hand. */
function manualWrites() {
  const calls: { namespace: string; name: string; settle: (ok: boolean) => void }[] = [];
  const write = (namespace: string, e: JsonObject) =>
    new Promise<void>((resolve, reject) => {
      const name = (e.metadata as JsonObject).name as string;
      calls.push({
        namespace,
        name,
        settle: (ok) => (ok ? resolve() : reject(new Error(`refused ${name}`))),
      });
    });
  return { calls, write };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("EventSink", () => {
  it("writes at most maxInFlight at once, in order, into the event's namespace", async () => {
    const { calls, write } = manualWrites();
    const sink = new EventSink(write, () => {}, { maxQueued: 10, maxInFlight: 2 });
    for (let i = 0; i < 5; i++) sink.post(event(`e${i}`, i === 4 ? "other" : "default"));
    expect(calls.map((c) => c.name)).toEqual(["e0", "e1"]);
    expect(sink.queued).toBe(3);
    calls[0]?.settle(true);
    await turn();
    expect(calls.map((c) => c.name)).toEqual(["e0", "e1", "e2"]);
    for (let i = 1; i < 5; i++) {
      calls[i]?.settle(true);
      await turn();
    }
    expect(calls.map((c) => c.name)).toEqual(["e0", "e1", "e2", "e3", "e4"]);
    expect(calls[4]?.namespace).toBe("other");
    expect(sink.queued).toBe(0);
  });

  it("drops and counts what does not fit in the queue", () => {
    const { calls, write } = manualWrites();
    const sink = new EventSink(write, () => {}, { maxQueued: 2, maxInFlight: 1 });
    const posted = [0, 1, 2, 3, 4].map((i) => sink.post(event(`e${i}`)));
    // e0 in flight, e1 and e2 queued, e3 and e4 dropped
    expect(posted).toEqual([true, true, true, false, false]);
    expect(sink.dropped).toBe(2);
    expect(calls).toHaveLength(1);
  });

  it("reports a failed create, does not retry it, and goes on", async () => {
    const { calls, write } = manualWrites();
    const errors: string[] = [];
    const sink = new EventSink(
      write,
      (e, error) => errors.push(`${(e.metadata as JsonObject).name}: ${(error as Error).message}`),
      { maxQueued: 5, maxInFlight: 1 },
    );
    sink.post(event("a"));
    sink.post(event("b"));
    calls[0]?.settle(false);
    await turn();
    expect(errors).toEqual(["a: refused a"]);
    expect(sink.failed).toBe(1);
    expect(calls.map((c) => c.name)).toEqual(["a", "b"]);
  });

  it("writes nothing more after stop", async () => {
    const { calls, write } = manualWrites();
    const sink = new EventSink(write, () => {}, { maxQueued: 5, maxInFlight: 1 });
    sink.post(event("a"));
    sink.post(event("b"));
    sink.stop();
    expect(sink.post(event("c"))).toBe(false);
    calls[0]?.settle(true);
    await turn();
    expect(calls.map((c) => c.name)).toEqual(["a"]);
  });
});
