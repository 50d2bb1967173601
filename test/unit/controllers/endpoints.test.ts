/**
 * The Endpoints controller, run by the controller runtime against the in-memory API under a
 * ManualClock: what a Service's Endpoints list (ready and not-ready pods, resolved target ports,
 * which pods are left out), how it follows pods and the Service, and that it writes only when
 * the content changes. Plus the pure packing and truncation rules.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  desiredSubsets,
  ENDPOINTS,
  endpointsController,
  LAST_CHANGE_TRIGGER_TIME_ANNOTATION,
  MAX_ENDPOINT_ADDRESSES,
  OVER_CAPACITY_ANNOTATION,
  truncateSubsets,
} from "../../../actors/controllers/endpoints.ts";
import { HEADLESS_SERVICE_LABEL } from "../../../actors/controllers/service-pods.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi } from "./fake-api.ts";
import {
  meta,
  NS,
  podObject,
  run,
  serviceObject,
  setPodStatus,
  startControllers,
} from "./service-fixtures.ts";

async function setup(objects: { pods?: JsonObject[]; services?: JsonObject[] } = {}) {
  const clock = new ManualClock();
  const api = new FakeApi();
  for (const p of objects.pods ?? []) await api.create("pods", p);
  for (const s of objects.services ?? []) await api.create("services", s);
  const runtime = startControllers(api, clock, [endpointsController]);
  await run(clock, 100);
  const endpoints = async (name = "web") => {
    try {
      return await api.get(ENDPOINTS, name, { namespace: NS });
    } catch {
      return undefined;
    }
  };
  const endpointWrites = () => api.writes.filter((w) => w.includes(` ${ENDPOINTS} `));
  return { clock, api, endpoints, endpointWrites, stop: runtime.stop };
}

const subsetsOf = (ep: JsonObject | undefined) => (ep?.subsets ?? []) as JsonObject[];
const ips = (addresses: unknown) => ((addresses ?? []) as JsonObject[]).map((a) => a.ip);
const count = (list: unknown) => ((list ?? []) as unknown[]).length;

describe("Endpoints controller: what a Service's Endpoints list", () => {
  it("ready pods under addresses, not-ready under notReadyAddresses, each with targetRef and nodeName", async () => {
    const t = await setup({
      pods: [
        podObject("a", { ip: "127.200.0.2", node: "n1" }),
        podObject("b", { ip: "127.200.0.3", node: "n2", ready: false }),
        podObject("c", { ip: "127.200.0.4", node: "n3" }),
      ],
      services: [serviceObject("web", {}, { labels: { tier: "front" } })],
    });
    const ep = await t.endpoints();
    expect(ep).toBeDefined();
    const subsets = subsetsOf(ep);
    expect(subsets).toHaveLength(1);
    const subset = subsets[0] as JsonObject;
    expect(ips(subset.addresses)).toEqual(["127.200.0.2", "127.200.0.4"]);
    expect(ips(subset.notReadyAddresses)).toEqual(["127.200.0.3"]);
    expect(subset.ports).toEqual([{ port: 8080, protocol: "TCP" }]);
    const a = (subset.addresses as JsonObject[])[0] as JsonObject;
    const podA = await t.api.get("pods", "a", { namespace: NS });
    expect(a).toEqual({
      ip: "127.200.0.2",
      nodeName: "n1",
      targetRef: { kind: "Pod", namespace: NS, name: "a", uid: meta(podA).uid },
    });
    // labelled as the Service is, and marked as the controller's own
    expect(meta(ep as JsonObject).labels).toEqual({ tier: "front" });
    expect(
      (meta(ep as JsonObject).annotations as JsonObject)[LAST_CHANGE_TRIGGER_TIME_ANNOTATION],
    ).toBeTypeOf("string");
    t.stop();
  });

  it("a named targetPort resolves on each pod through its container ports; pods without it offer nothing", async () => {
    const t = await setup({
      pods: [
        podObject("a", { ip: "127.200.0.2", ports: [["http", 8080]] }),
        podObject("b", { ip: "127.200.0.3", ports: [["http", 9090]] }),
        podObject("c", { ip: "127.200.0.4", ports: [["metrics", 8080]] }),
      ],
      services: [
        serviceObject("web", {
          ports: [{ name: "web", port: 80, targetPort: "http", protocol: "TCP" }],
        }),
      ],
    });
    const subsets = subsetsOf(await t.endpoints());
    const byPort = new Map(
      subsets.map((s) => [((s.ports as JsonObject[])[0] as JsonObject).port, ips(s.addresses)]),
    );
    expect(byPort).toEqual(
      new Map([
        [8080, ["127.200.0.2"]],
        [9090, ["127.200.0.3"]],
      ]),
    );
    expect(subsets[0]?.ports).toMatchObject([{ name: "web", protocol: "TCP" }]);
    t.stop();
  });

  it("leaves out pods without an IP, terminating pods, finished pods and pods not selected", async () => {
    const t = await setup({
      pods: [
        podObject("ok", { ip: "127.200.0.2" }),
        podObject("no-ip", {}),
        podObject("terminating", { ip: "127.200.0.3", deleting: true }),
        podObject("succeeded", { ip: "127.200.0.4", phase: "Succeeded" }),
        podObject("failed", { ip: "127.200.0.5", phase: "Failed" }),
        podObject("other-app", { ip: "127.200.0.6", labels: { app: "db" } }),
        podObject("other-ns", { ip: "127.200.0.7", namespace: "elsewhere" }),
      ],
      services: [serviceObject("web")],
    });
    const subsets = subsetsOf(await t.endpoints());
    expect(subsets).toHaveLength(1);
    expect(ips(subsets[0]?.addresses)).toEqual(["127.200.0.2"]);
    expect(subsets[0]?.notReadyAddresses).toBeUndefined();
    t.stop();
  });

  it("follows pods: a new pod joins, a deleted or relabelled one leaves, readiness moves it", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" }), podObject("b", { ip: "127.200.0.3" })],
      services: [serviceObject("web")],
    });
    await t.api.create("pods", podObject("c", { ip: "127.200.0.4", ready: false }));
    await run(t.clock, 100);
    expect(ips(subsetsOf(await t.endpoints())[0]?.notReadyAddresses)).toEqual(["127.200.0.4"]);

    await setPodStatus(t.api, "c", {
      phase: "Running",
      podIP: "127.200.0.4",
      conditions: [{ type: "Ready", status: "True" }],
    });
    await run(t.clock, 100);
    expect(ips(subsetsOf(await t.endpoints())[0]?.addresses)).toEqual([
      "127.200.0.2",
      "127.200.0.3",
      "127.200.0.4",
    ]);

    await t.api.delete("pods", "a", { namespace: NS });
    await run(t.clock, 100);
    expect(ips(subsetsOf(await t.endpoints())[0]?.addresses)).toEqual([
      "127.200.0.3",
      "127.200.0.4",
    ]);
    // only its old labels lead to the Service: the watch maps a pod change by both
    const b = await t.api.get("pods", "b", { namespace: NS });
    await t.api.update("pods", { ...b, metadata: { ...meta(b), labels: { app: "other" } } });
    await run(t.clock, 100);
    expect(ips(subsetsOf(await t.endpoints())[0]?.addresses)).toEqual(["127.200.0.4"]);
    t.stop();
  });

  it("deleting the Service deletes its Endpoints", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" })],
      services: [serviceObject("web")],
    });
    expect(await t.endpoints()).toBeDefined();
    await t.api.delete("services", "web", { namespace: NS });
    await run(t.clock, 100);
    expect(await t.endpoints()).toBeUndefined();
    t.stop();
  });

  it("a Service without a selector keeps the user's Endpoints; the user's Endpoints go with the Service", async () => {
    const userEndpoints: JsonObject = {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "external", namespace: NS },
      subsets: [{ addresses: [{ ip: "10.1.2.3" }], ports: [{ port: 5432, protocol: "TCP" }] }],
    };
    const external = serviceObject("external");
    delete (external.spec as JsonObject).selector;
    const t = await setup({ pods: [podObject("a", { ip: "127.200.0.2" })], services: [external] });
    // made ahead of nothing: a user's Endpoints without a Service is not ours to delete
    await t.api.create(ENDPOINTS, {
      ...userEndpoints,
      metadata: { name: "orphan", namespace: NS },
    });
    await t.api.create(ENDPOINTS, userEndpoints);
    await run(t.clock, 100);
    expect(t.endpointWrites()).toEqual([
      `create ${ENDPOINTS} orphan`,
      `create ${ENDPOINTS} external`,
    ]);
    expect((await t.endpoints("external"))?.subsets).toEqual(userEndpoints.subsets);

    await t.api.delete("services", "external", { namespace: NS });
    await run(t.clock, 100);
    expect(await t.endpoints("external")).toBeUndefined();
    expect(await t.endpoints("orphan")).toBeDefined();
    t.stop();
  });

  it("writes only when the content changes: heartbeats and unrelated pod changes write nothing", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" }), podObject("b", { ip: "127.200.0.3" })],
      services: [serviceObject("web")],
    });
    expect(t.endpointWrites()).toEqual([`create ${ENDPOINTS} web`]);
    for (let i = 0; i < 5; i++) {
      // a kubelet's status post that changes nothing the endpoints show, and an annotation
      const before = await t.api.get("pods", "a", { namespace: NS });
      await setPodStatus(t.api, "a", {
        ...(before.status as JsonObject),
        startTime: `2026-01-01T00:00:0${i}Z`,
      });
      const pod = await t.api.get("pods", "a", { namespace: NS });
      await t.api.update("pods", {
        ...pod,
        metadata: { ...(pod.metadata as JsonObject), annotations: { n: String(i) } },
      });
      await run(t.clock, 50);
    }
    // an unrelated pod
    await t.api.create("pods", podObject("db", { ip: "127.200.0.9", labels: { app: "db" } }));
    await run(t.clock, 100);
    expect(t.endpointWrites()).toEqual([`create ${ENDPOINTS} web`]);
    t.stop();
  });

  it("repairs drift: an edited Endpoints object is written back, a deleted one made again", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" })],
      services: [serviceObject("web")],
    });
    const good = (await t.endpoints())?.subsets;
    const ep = (await t.endpoints()) as JsonObject;
    await t.api.update(ENDPOINTS, { ...ep, subsets: [{ addresses: [{ ip: "1.2.3.4" }] }] });
    await run(t.clock, 100);
    expect((await t.endpoints())?.subsets).toEqual(good);
    await t.api.delete(ENDPOINTS, "web", { namespace: NS });
    await run(t.clock, 100);
    expect((await t.endpoints())?.subsets).toEqual(good);
    t.stop();
  });

  it("a headless Service's Endpoints carry the headless label; publishNotReadyAddresses lists every pod as ready", async () => {
    const t = await setup({
      pods: [
        podObject("a", { ip: "127.200.0.2" }),
        podObject("b", { ip: "127.200.0.3", ready: false }),
      ],
      services: [serviceObject("web", { clusterIP: "None", publishNotReadyAddresses: true })],
    });
    const ep = (await t.endpoints()) as JsonObject;
    expect(meta(ep).labels).toEqual({ [HEADLESS_SERVICE_LABEL]: "" });
    expect(ips(subsetsOf(ep)[0]?.addresses)).toEqual(["127.200.0.2", "127.200.0.3"]);
    t.stop();
  });
  it("past MAX_ENDPOINT_ADDRESSES pods the object is truncated and annotated over-capacity, until back under", async () => {
    const pods = Array.from({ length: MAX_ENDPOINT_ADDRESSES + 1 }, (_, i) =>
      podObject(`p${i}`, { ip: `127.200.${Math.floor(i / 250)}.${(i % 250) + 2}` }),
    );
    const t = await setup({ pods, services: [serviceObject("web")] });
    const annotations = async () =>
      meta((await t.endpoints()) as JsonObject).annotations as JsonObject;
    expect(count(subsetsOf(await t.endpoints())[0]?.addresses)).toBe(MAX_ENDPOINT_ADDRESSES);
    expect((await annotations())[OVER_CAPACITY_ANNOTATION]).toBe("truncated");
    await t.api.delete("pods", "p0", { namespace: NS });
    await run(t.clock, 100);
    expect(count(subsetsOf(await t.endpoints())[0]?.addresses)).toBe(MAX_ENDPOINT_ADDRESSES);
    expect((await annotations())[OVER_CAPACITY_ANNOTATION]).toBeUndefined();
    t.stop();
  });
});

describe("Endpoints packing (RepackSubsets) and capacity (truncateEndpoints)", () => {
  const svc = serviceObject("web", {
    ports: [
      { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
      { name: "metrics", port: 9100, targetPort: 9100, protocol: "TCP" },
    ],
  });

  it("ports offered by the same addresses share a subset", () => {
    const pods = [
      podObject("a", { ip: "127.200.0.2" }),
      podObject("b", { ip: "127.200.0.3" }),
      podObject("c", { ip: "127.200.0.4", ports: [["other", 1]] }),
    ].map((p) => ({ ...p, metadata: { ...meta(p), uid: String(meta(p).name) } }) as JsonObject);
    const subsets = desiredSubsets(svc, pods);
    // a and b offer both ports; c only the numbered one
    const byPorts = new Map(
      subsets.map((s) => [
        JSON.stringify((s.ports as JsonObject[]).map((p) => p.port)),
        ips(s.addresses),
      ]),
    );
    expect(byPorts).toEqual(
      new Map([
        ["[8080]", ["127.200.0.2", "127.200.0.3"]],
        ["[9100]", ["127.200.0.2", "127.200.0.3", "127.200.0.4"]],
      ]),
    );
  });

  it("is deterministic: the same pods in any order give the same subsets", () => {
    const pods = Array.from({ length: 20 }, (_, i) =>
      podObject(`p${i}`, { ip: `127.200.0.${i + 2}`, ready: i % 3 !== 0 }),
    );
    expect(desiredSubsets(svc, [...pods].reverse())).toEqual(desiredSubsets(svc, pods));
  });

  it("over capacity keeps ready addresses first, each subset its share, and says so", () => {
    const address = (i: number) => ({ ip: `10.0.${Math.floor(i / 250)}.${i % 250}` });
    const subsets: JsonObject[] = [
      {
        addresses: Array.from({ length: 600 }, (_, i) => address(i)),
        notReadyAddresses: Array.from({ length: 300 }, (_, i) => address(1000 + i)),
      },
      { addresses: Array.from({ length: 200 }, (_, i) => address(2000 + i)) },
    ];
    expect(truncateSubsets(subsets, 1000)).toBe(true);
    expect(count(subsets[0]?.addresses)).toBe(600);
    expect(count(subsets[1]?.addresses)).toBe(200);
    // 800 ready + 300 not ready: the not-ready ones give way
    expect(count(subsets[0]?.notReadyAddresses)).toBe(200);
    const ready: JsonObject[] = [
      {
        addresses: Array.from({ length: 900 }, (_, i) => address(i)),
        notReadyAddresses: [address(5000)],
      },
      { addresses: Array.from({ length: 300 }, (_, i) => address(3000 + i)) },
    ];
    expect(truncateSubsets(ready, 1000)).toBe(true);
    // 1200 ready: 750 + 250 by their shares, the not-ready one goes
    expect(ready.map((s) => count(s.addresses))).toEqual([750, 250]);
    expect(ready[0]?.notReadyAddresses).toBeUndefined();
  });
});
