/**
 * PriorityClass and the Priority admission plugin through the REST handler: a pod's
 * priorityClassName becomes spec.priority (and preemptionPolicy) at create; no class means the
 * globalDefault's value, or 0; an unknown class or a contradicting priority is 403; the system
 * classes are known even before the API server writes them; only one global default; user
 * classes stay at or under 1,000,000,000 and off the `system-` prefix.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { MemoryObjectStore } from "./memory-object-store.ts";
import { restCaller } from "./rest-harness.ts";

const PCS = "/apis/scheduling.k8s.io/v1/priorityclasses";
const PODS = "/api/v1/namespaces/default/pods";

async function server() {
  const call = restCaller(new MemoryObjectStore(), new ManualClock(0, 1_700_000_000_000));
  await call("POST", "/api/v1/namespaces", { metadata: { name: "default" } });
  return call;
}

const pod = (name: string, spec: JsonObject = {}) => ({
  metadata: { name },
  spec: { containers: [{ name: "c", image: "bosun/pause" }], ...spec },
});
const specOf = (o: JsonObject) => o.spec as JsonObject;

describe("the Priority admission plugin", () => {
  it("resolves priorityClassName to spec.priority and preemptionPolicy", async () => {
    const call = await server();
    const pc = await call("POST", PCS, {
      metadata: { name: "high" },
      value: 1000,
      preemptionPolicy: "Never",
    });
    expect(pc.code).toBe(201);
    const created = await call("POST", PODS, pod("p", { priorityClassName: "high" }));
    expect(created.code).toBe(201);
    expect(specOf(created.body)).toMatchObject({
      priority: 1000,
      preemptionPolicy: "Never",
      priorityClassName: "high",
    });
  });

  it("no class: the globalDefault class, or 0; the system classes resolve", async () => {
    const call = await server();
    expect(specOf((await call("POST", PODS, pod("zero"))).body).priority).toBe(0);
    await call("POST", PCS, { metadata: { name: "normal" }, value: 100, globalDefault: true });
    const p = await call("POST", PODS, pod("defaulted"));
    expect(specOf(p.body)).toMatchObject({ priority: 100, priorityClassName: "normal" });
    const critical = await call(
      "POST",
      PODS,
      pod("critical", { priorityClassName: "system-node-critical" }),
    );
    expect(specOf(critical.body).priority).toBe(2_000_001_000);
  });

  it("an unknown class, or a priority the class contradicts, is Forbidden", async () => {
    const call = await server();
    const missing = await call("POST", PODS, pod("p", { priorityClassName: "nope" }));
    expect(missing.code).toBe(403);
    expect(missing.body.message).toBe(
      'pods "p" is forbidden: no PriorityClass with name nope was found',
    );
    await call("POST", PCS, { metadata: { name: "mid" }, value: 50 });
    const wrong = await call("POST", PODS, pod("q", { priorityClassName: "mid", priority: 7 }));
    expect(wrong.code).toBe(403);
    expect(wrong.body.message).toContain("the integer value of priority (7) must not be provided");
  });
});

describe("PriorityClass validation", () => {
  it("one global default; user values up to 1e9; system- reserved; value immutable", async () => {
    const call = await server();
    await call("POST", PCS, { metadata: { name: "a" }, value: 1, globalDefault: true });
    const second = await call("POST", PCS, {
      metadata: { name: "b" },
      value: 2,
      globalDefault: true,
    });
    expect(second.code).toBe(403);
    expect(second.body.message).toContain(
      "PriorityClass a is already marked as default. Only one default can exist",
    );
    const big = await call("POST", PCS, { metadata: { name: "big" }, value: 1_000_000_001 });
    expect(big.code).toBe(422);
    expect(big.body.message).toContain(
      "value: Forbidden: maximum allowed value of a user defined priority is 1000000000",
    );
    const sys = await call("POST", PCS, { metadata: { name: "system-mine" }, value: 1 });
    expect(sys.code).toBe(422);
    expect(sys.body.message).toContain("metadata.name: Forbidden");
    const created = await call("POST", PCS, { metadata: { name: "c" }, value: 3 });
    expect(created.body.preemptionPolicy).toBe("PreemptLowerPriority");
    const changed = await call("PUT", `${PCS}/c`, { ...created.body, value: 4 });
    expect(changed.code).toBe(422);
    expect(changed.body.message).toContain("value: Invalid value: 4: field is immutable");
  });
});
