/**
 * The EndpointSlice controller against the in-memory API under a ManualClock: the slices of a
 * Service (labels, owner, addressType, endpoint conditions, ports), more than
 * MAX_ENDPOINTS_PER_SLICE endpoints over several slices with the fewest writes on a change, the
 * Service's deletion, no writes when nothing changed, drift repair, and no duplicate slices from
 * a cache that trails the API.
 */

import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from "../../../actors/api/well-known.ts";
import {
  ADDRESS_TYPE_IPV4,
  MANAGED_BY_ENDPOINTSLICE_CONTROLLER,
  MAX_ENDPOINTS_PER_SLICE,
  planEndpointSlices,
} from "../../../actors/controllers/endpoint-slice-plan.ts";
import {
  ENDPOINT_SLICES,
  endpointSliceController,
} from "../../../actors/controllers/endpoint-slices.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi } from "./fake-api.ts";
import {
  LaggingSource,
  meta,
  NS,
  podObject,
  run,
  serviceObject,
  setPodStatus,
  startControllers,
} from "./service-fixtures.ts";

const ipOf = (i: number) => `127.200.${Math.floor(i / 250)}.${(i % 250) + 2}`;

async function setup(
  objects: { pods?: JsonObject[]; services?: JsonObject[] } = {},
  lagMs?: () => number,
) {
  const clock = new ManualClock();
  const api = new FakeApi();
  for (const p of objects.pods ?? []) await api.create("pods", p);
  for (const s of objects.services ?? []) await api.create("services", s);
  const source = lagMs ? new LaggingSource(api, clock, lagMs) : api;
  const runtime = startControllers(api, clock, [(ctx) => endpointSliceController(ctx)], source);
  await run(clock, 100);
  const slices = () => api.all(ENDPOINT_SLICES, NS);
  const sliceWrites = () => api.writes.filter((w) => w.includes(` ${ENDPOINT_SLICES} `));
  return { clock, api, slices, sliceWrites, stop: runtime.stop };
}

const endpointsOf = (slices: JsonObject[]) =>
  slices.flatMap((s) => (s.endpoints ?? []) as JsonObject[]);
const addressesOf = (slices: JsonObject[]) =>
  endpointsOf(slices)
    .map((e) => (e.addresses as string[])[0])
    .sort();

describe("EndpointSlice controller", () => {
  it("one slice per Service: labelled, owned by the Service, IPv4, endpoints with conditions, nodeName and targetRef", async () => {
    const t = await setup({
      pods: [
        podObject("a", { ip: "127.200.0.2", node: "n1" }),
        podObject("b", { ip: "127.200.0.3", node: "n2", ready: false }),
      ],
      services: [
        serviceObject("web", {
          ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
        }),
      ],
    });
    const slices = t.slices();
    expect(slices).toHaveLength(1);
    const slice = slices[0] as JsonObject;
    const svc = await t.api.get("services", "web", { namespace: NS });
    expect(meta(slice).name).toMatch(/^web-/);
    expect(meta(slice).labels).toEqual({
      [SERVICE_NAME_LABEL]: "web",
      [MANAGED_BY_LABEL]: MANAGED_BY_ENDPOINTSLICE_CONTROLLER,
    });
    expect(meta(slice).ownerReferences).toEqual([
      {
        apiVersion: "v1",
        kind: "Service",
        name: "web",
        uid: meta(svc).uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(slice.addressType).toBe(ADDRESS_TYPE_IPV4);
    expect(slice.ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }]);
    const podA = await t.api.get("pods", "a", { namespace: NS });
    expect(slice.endpoints).toEqual([
      {
        addresses: ["127.200.0.2"],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "n1",
        targetRef: { kind: "Pod", namespace: NS, name: "a", uid: meta(podA).uid },
      },
      expect.objectContaining({
        addresses: ["127.200.0.3"],
        conditions: { ready: false, serving: false, terminating: false },
        nodeName: "n2",
      }),
    ]);
    t.stop();
  });

  it("a terminating pod stays, not ready, terminating, serving as its readiness says", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2", deleting: true })],
      services: [serviceObject("web")],
    });
    expect(endpointsOf(t.slices())[0]?.conditions).toEqual({
      ready: false,
      serving: true,
      terminating: true,
    });
    t.stop();
  });

  it(`more than ${MAX_ENDPOINTS_PER_SLICE} endpoints fill several slices; a change rewrites only the slice it touches`, async () => {
    const pods = Array.from({ length: 250 }, (_, i) => podObject(`p${i}`, { ip: ipOf(i) }));
    const t = await setup({ pods, services: [serviceObject("web")] });
    const slices = t.slices();
    expect(slices).toHaveLength(3);
    for (const s of slices)
      expect((s.endpoints as JsonObject[]).length).toBeLessThanOrEqual(MAX_ENDPOINTS_PER_SLICE);
    expect(addressesOf(slices)).toEqual(pods.map((_, i) => ipOf(i)).sort());

    const before = t.sliceWrites().length;
    await t.api.delete("pods", "p7", { namespace: NS });
    await run(t.clock, 100);
    expect(t.sliceWrites().slice(before)).toHaveLength(1);
    expect(t.sliceWrites().at(-1)).toMatch(/^update /);
    expect(addressesOf(t.slices())).not.toContain(ipOf(7));

    // a new pod goes into the slice with room, not into a fourth one
    await t.api.create("pods", podObject("new", { ip: ipOf(300) }));
    await run(t.clock, 100);
    expect(t.slices()).toHaveLength(3);
    expect(addressesOf(t.slices())).toContain(ipOf(300));
    t.stop();
  });

  it("follows pods: readiness flips the condition, a deleted pod's endpoint goes", async () => {
    const t = await setup({
      pods: [
        podObject("a", { ip: "127.200.0.2", ready: false }),
        podObject("b", { ip: "127.200.0.3" }),
      ],
      services: [serviceObject("web")],
    });
    await setPodStatus(t.api, "a", {
      phase: "Running",
      podIP: "127.200.0.2",
      conditions: [{ type: "Ready", status: "True" }],
    });
    await run(t.clock, 100);
    expect(endpointsOf(t.slices()).map((e) => (e.conditions as JsonObject).ready)).toEqual([
      true,
      true,
    ]);
    await t.api.delete("pods", "b", { namespace: NS });
    await run(t.clock, 100);
    expect(addressesOf(t.slices())).toEqual(["127.200.0.2"]);
    t.stop();
  });

  it("deleting the Service deletes its slices (and only its own)", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" })],
      services: [serviceObject("web"), serviceObject("api")],
    });
    expect(t.slices()).toHaveLength(2);
    await t.api.delete("services", "web", { namespace: NS });
    await run(t.clock, 100);
    const left = t.slices();
    expect(left.map((s) => (meta(s).labels as JsonObject)[SERVICE_NAME_LABEL])).toEqual(["api"]);
    t.stop();
  });

  it("writes nothing when nothing an endpoint shows changed", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" }), podObject("b", { ip: "127.200.0.3" })],
      services: [serviceObject("web")],
    });
    const before = t.sliceWrites();
    expect(before).toHaveLength(1);
    for (let i = 0; i < 5; i++) {
      const pod = await t.api.get("pods", "a", { namespace: NS });
      await setPodStatus(t.api, "a", { ...(pod.status as JsonObject), startTime: `t${i}` });
      await run(t.clock, 50);
    }
    expect(t.sliceWrites()).toEqual(before);
    t.stop();
  });

  it("repairs drift: an edited slice is written back, a deleted one made again", async () => {
    const t = await setup({
      pods: [podObject("a", { ip: "127.200.0.2" })],
      services: [serviceObject("web")],
    });
    const slice = t.slices()[0] as JsonObject;
    await t.api.update(ENDPOINT_SLICES, { ...slice, endpoints: [] });
    await run(t.clock, 100);
    expect(addressesOf(t.slices())).toEqual(["127.200.0.2"]);
    await t.api.delete(ENDPOINT_SLICES, String(meta(slice).name), { namespace: NS });
    await run(t.clock, 100);
    expect(t.slices()).toHaveLength(1);
    expect(addressesOf(t.slices())).toEqual(["127.200.0.2"]);
    t.stop();
  });

  it("a cache that trails the API never makes a slice twice", async () => {
    let lag = 0;
    const t = await setup({ services: [serviceObject("web")] }, () => lag);
    lag = 300; // watch events now reach the informers 300 ms late
    for (let i = 0; i < 30; i++) {
      await t.api.create("pods", podObject(`p${i}`, { ip: ipOf(i) }));
      await run(t.clock, 20);
    }
    await run(t.clock, 2_000);
    const slices = t.slices();
    expect(slices).toHaveLength(1);
    expect(addressesOf(slices)).toEqual(Array.from({ length: 30 }, (_, i) => ipOf(i)).sort());
    t.stop();
  });
});

describe("planEndpointSlices", () => {
  const svc: JsonObject = {
    ...serviceObject("web", {
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    }),
    metadata: { name: "web", namespace: NS, uid: "svc-uid" },
  };
  const pod = (i: number, port = 8080) => {
    const p = podObject(`p${i}`, { ip: ipOf(i), ports: [["http", port]] });
    return { ...p, metadata: { ...meta(p), uid: `uid-${i}` } } as JsonObject;
  };

  it("endpoints whose named port resolves to different numbers go to different slices", () => {
    const plan = planEndpointSlices(svc, [pod(1), pod(2, 9090), pod(3)], []);
    expect(plan.create.map((s) => [(s.ports as JsonObject[])[0]?.port, addressesOf([s])])).toEqual([
      [8080, [ipOf(1), ipOf(3)]],
      [9090, [ipOf(2)]],
    ]);
  });

  it("an unchanged world plans nothing; a slice of an earlier Service of the same name is deleted", () => {
    const pods = [pod(1), pod(2)];
    const first = planEndpointSlices(svc, pods, []);
    const existing = first.create.map((s, i) => ({
      ...s,
      metadata: { ...meta(s), name: `web-${i}`, resourceVersion: "5" },
    })) as JsonObject[];
    expect(planEndpointSlices(svc, pods, existing)).toEqual({ create: [], update: [], delete: [] });
    const recreated = { ...svc, metadata: { ...meta(svc), uid: "new-uid" } } as JsonObject;
    const plan = planEndpointSlices(recreated, pods, existing);
    expect(plan.delete.map((s) => meta(s).name)).toEqual(["web-0"]);
    expect(plan.create).toHaveLength(1);
  });
});
