/**
 * Table output: the columns and cells of pkg/printers/internalversion/printers.go that kubectl
 * shows (`kubectl get`, `-o wide` for priority 1), and kubectl's AGE durations
 * (apimachinery pkg/util/duration.HumanDuration).
 */
import { describe, expect, it } from "vitest";
import { humanDuration } from "../../../actors/api/human-duration.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import { buildTable, columnDefinitions, podStatusCells } from "../../../actors/api/table.ts";

const NOW = Date.parse("2024-05-01T12:00:00Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const header = (kind: string, wide = false) =>
  columnDefinitions(kind)
    .filter((c) => wide || c.priority === 0)
    .map((c) => c.name.toUpperCase());

describe("HumanDuration", () => {
  it.each([
    [-5_000, "<invalid>"],
    [-1_500, "0s"],
    [0, "0s"],
    [59_000, "59s"],
    [119_000, "119s"],
    [120_000, "2m"],
    [302_000, "5m2s"],
    [600_000, "10m"],
    [179 * 60_000, "179m"],
    [3 * 3600_000, "3h"],
    [3 * 3600_000 + 5 * 60_000, "3h5m"],
    [8 * 3600_000, "8h"],
    [47 * 3600_000, "47h"],
    [2 * 86400_000, "2d"],
    [2 * 86400_000 + 3 * 3600_000, "2d3h"],
    [30 * 86400_000, "30d"],
    [3 * 365 * 86400_000, "3y"],
    [3 * 365 * 86400_000 + 10 * 86400_000, "3y10d"],
    [10 * 365 * 86400_000, "10y"],
  ])("%d ms → %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe("pods", () => {
  const running: JsonObject = {
    metadata: { name: "web-1", namespace: "default", creationTimestamp: ago(302_000) },
    spec: { nodeName: "n1", containers: [{ name: "a" }, { name: "b" }] },
    status: {
      phase: "Running",
      podIP: "10.0.0.5",
      conditions: [{ type: "Ready", status: "False" }],
      containerStatuses: [
        { name: "a", ready: true, restartCount: 0, state: { running: {} } },
        {
          name: "b",
          ready: false,
          restartCount: 3,
          state: { waiting: { reason: "CrashLoopBackOff" } },
          lastState: { terminated: { exitCode: 1, finishedAt: ago(60_000) } },
        },
      ],
    },
  };

  it("columns: NAME READY STATUS RESTARTS AGE, wide adds IP NODE NOMINATED NODE READINESS GATES", () => {
    expect(header("Pod")).toEqual(["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    expect(header("Pod", true)).toEqual([
      "NAME",
      "READY",
      "STATUS",
      "RESTARTS",
      "AGE",
      "IP",
      "NODE",
      "NOMINATED NODE",
      "READINESS GATES",
    ]);
  });

  it("cells: readiness, the waiting reason, restarts with the last restart age", () => {
    const t = buildTable("Pod", [running], { nowMs: NOW });
    expect(t.rows[0]!.cells).toEqual([
      "web-1",
      "1/2",
      "CrashLoopBackOff",
      "3 (60s ago)",
      "5m2s",
      "10.0.0.5",
      "n1",
      "<none>",
      "<none>",
    ]);
    expect(t.rows[0]!.object).toEqual({
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: running.metadata,
    });
    expect(
      buildTable("Pod", [running], { nowMs: NOW, includeObject: "Object" }).rows[0]!.object,
    ).toBe(running);
  });

  it.each<[string, JsonObject, string]>([
    [
      "Pending before scheduling",
      { spec: { containers: [{ name: "a" }] }, status: { phase: "Pending" } },
      "Pending",
    ],
    [
      "Init:0/1 while an init container runs",
      {
        spec: { initContainers: [{ name: "i" }], containers: [{ name: "a" }] },
        status: {
          phase: "Pending",
          initContainerStatuses: [{ name: "i", state: { running: {} } }],
        },
      },
      "Init:0/1",
    ],
    [
      "Init:ExitCode when an init container fails without a reason",
      {
        spec: { initContainers: [{ name: "i" }], containers: [{ name: "a" }] },
        status: {
          phase: "Pending",
          initContainerStatuses: [{ name: "i", state: { terminated: { exitCode: 2 } } }],
        },
      },
      "Init:ExitCode:2",
    ],
    [
      "Completed",
      {
        spec: { containers: [{ name: "a" }] },
        status: {
          phase: "Succeeded",
          containerStatuses: [
            { name: "a", state: { terminated: { exitCode: 0, reason: "Completed" } } },
          ],
        },
      },
      "Completed",
    ],
    [
      "Terminating once deleted",
      {
        metadata: { deletionTimestamp: "2024-05-01T11:59:00Z" },
        spec: { containers: [{ name: "a" }] },
        status: {
          phase: "Running",
          containerStatuses: [{ name: "a", ready: true, state: { running: {} } }],
        },
      },
      "Terminating",
    ],
    [
      "the pod's own reason wins (Evicted)",
      { spec: { containers: [] }, status: { phase: "Failed", reason: "Evicted" } },
      "Evicted",
    ],
  ])("STATUS %s", (_name, podObj, status) => {
    expect(podStatusCells(podObj, NOW).status).toBe(status);
  });

  it("finished pods carry the Completed row condition", () => {
    const t = buildTable(
      "Pod",
      [{ metadata: { name: "j" }, spec: { containers: [] }, status: { phase: "Succeeded" } }],
      { nowMs: NOW },
    );
    expect(t.rows[0]!.conditions).toEqual([{ type: "Completed", status: "True" }]);
  });
});

describe("deployments, replicasets", () => {
  const d: JsonObject = {
    metadata: { name: "web", creationTimestamp: ago(3 * 3600_000) },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: {
        spec: {
          containers: [
            { name: "nginx", image: "nginx:1.25" },
            { name: "log", image: "busybox" },
          ],
        },
      },
    },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };

  it("NAME READY UP-TO-DATE AVAILABLE AGE, wide CONTAINERS IMAGES SELECTOR", () => {
    expect(header("Deployment", true)).toEqual([
      "NAME",
      "READY",
      "UP-TO-DATE",
      "AVAILABLE",
      "AGE",
      "CONTAINERS",
      "IMAGES",
      "SELECTOR",
    ]);
    const t = buildTable("Deployment", [d], { nowMs: NOW, resourceVersion: "42" });
    expect(t.kind).toBe("Table");
    expect(t.apiVersion).toBe("meta.k8s.io/v1");
    expect(t.metadata).toEqual({ resourceVersion: "42" });
    expect(t.rows[0]!.cells).toEqual([
      "web",
      "2/3",
      3,
      2,
      "3h",
      "nginx,log",
      "nginx:1.25,busybox",
      "app=web",
    ]);
    expect(columnDefinitions("Deployment")[2]!.type).toBe("integer");
  });

  it("replicasets: NAME DESIRED CURRENT READY AGE", () => {
    expect(header("ReplicaSet")).toEqual(["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
  });
});

describe("services", () => {
  it("NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, wide SELECTOR", () => {
    expect(header("Service", true)).toEqual([
      "NAME",
      "TYPE",
      "CLUSTER-IP",
      "EXTERNAL-IP",
      "PORT(S)",
      "AGE",
      "SELECTOR",
    ]);
    const svc = (spec: JsonObject, status: JsonObject = {}) => ({
      metadata: { name: "s", creationTimestamp: ago(2 * 86400_000) },
      spec,
      status,
    });
    const rows = buildTable(
      "Service",
      [
        svc({
          type: "ClusterIP",
          clusterIP: "10.96.0.1",
          ports: [{ port: 443, protocol: "TCP" }],
          selector: { app: "x" },
        }),
        svc({
          type: "NodePort",
          clusterIP: "10.96.0.2",
          ports: [
            { port: 80, nodePort: 30080, protocol: "TCP" },
            { port: 53, protocol: "UDP" },
          ],
        }),
        svc({
          type: "LoadBalancer",
          clusterIP: "10.96.0.3",
          ports: [{ port: 80, protocol: "TCP" }],
        }),
        svc(
          { type: "LoadBalancer", clusterIP: "10.96.0.4", ports: [] },
          { loadBalancer: { ingress: [{ ip: "127.0.0.10" }] } },
        ),
        svc({ type: "ExternalName", externalName: "example.com" }),
      ],
      { nowMs: NOW },
    ).rows.map((r) => r.cells);
    expect(rows).toEqual([
      ["s", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "2d", "app=x"],
      ["s", "NodePort", "10.96.0.2", "<none>", "80:30080/TCP,53/UDP", "2d", "<none>"],
      ["s", "LoadBalancer", "10.96.0.3", "<pending>", "80/TCP", "2d", "<none>"],
      ["s", "LoadBalancer", "10.96.0.4", "127.0.0.10", "<none>", "2d", "<none>"],
      ["s", "ExternalName", "<none>", "example.com", "<none>", "2d", "<none>"],
    ]);
  });
});

describe("nodes", () => {
  it("NAME STATUS ROLES AGE VERSION, wide addresses and node info", () => {
    expect(header("Node", true)).toEqual([
      "NAME",
      "STATUS",
      "ROLES",
      "AGE",
      "VERSION",
      "INTERNAL-IP",
      "EXTERNAL-IP",
      "OS-IMAGE",
      "KERNEL-VERSION",
      "CONTAINER-RUNTIME",
    ]);
    const node: JsonObject = {
      metadata: {
        name: "n1",
        creationTimestamp: ago(10 * 86400_000),
        labels: {
          "node-role.kubernetes.io/control-plane": "",
          "node-role.kubernetes.io/worker": "",
        },
      },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: "Ready", status: "True" }],
        addresses: [{ type: "InternalIP", address: "127.0.0.2" }],
        nodeInfo: {
          kubeletVersion: "v1.30.0-bosun",
          osImage: "Debian",
          kernelVersion: "6.1",
          containerRuntimeVersion: "bosun://0.1",
        },
      },
    };
    expect(buildTable("Node", [node], { nowMs: NOW }).rows[0]!.cells).toEqual([
      "n1",
      "Ready,SchedulingDisabled",
      "control-plane,worker",
      "10d",
      "v1.30.0-bosun",
      "127.0.0.2",
      "<none>",
      "Debian",
      "6.1",
      "bosun://0.1",
    ]);
    expect(
      buildTable("Node", [{ metadata: { name: "n2" }, status: {} }], {
        nowMs: NOW,
      }).rows[0]!.cells.slice(1, 4),
    ).toEqual(["Unknown", "<none>", "<unknown>"]);
  });
});

describe("other kinds", () => {
  it("namespaces, configmaps, secrets, endpoints, leases", () => {
    expect(header("Namespace")).toEqual(["NAME", "STATUS", "AGE"]);
    expect(header("ConfigMap")).toEqual(["NAME", "DATA", "AGE"]);
    expect(header("Secret")).toEqual(["NAME", "TYPE", "DATA", "AGE"]);
    expect(header("Endpoints")).toEqual(["NAME", "ENDPOINTS", "AGE"]);
    expect(header("Lease")).toEqual(["NAME", "HOLDER", "AGE"]);
    expect(header("Event")).toEqual(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    const ep: JsonObject = {
      metadata: { name: "web" },
      subsets: [
        {
          addresses: [
            { ip: "10.0.0.1" },
            { ip: "10.0.0.2" },
            { ip: "10.0.0.3" },
            { ip: "10.0.0.4" },
          ],
          ports: [{ port: 80 }],
        },
      ],
    };
    expect(buildTable("Endpoints", [ep], { nowMs: NOW }).rows[0]!.cells[1]).toBe(
      "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...",
    );
  });

  it("includeObject=None leaves the object out", () => {
    expect(
      buildTable("ConfigMap", [{ metadata: { name: "c" } }], { nowMs: NOW, includeObject: "None" })
        .rows[0]!.object,
    ).toBeNull();
  });
});
