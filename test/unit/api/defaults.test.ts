/**
 * Create-time defaulting of minimal objects, as `kubectl create -f` then `kubectl get -o yaml`
 * shows them against Kubernetes (pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
 * registry PrepareForCreate).
 */
import { describe, expect, it } from "vitest";
import { applyDefaults, defaultImagePullPolicy } from "../../../actors/api/defaults.ts";
import type { JsonObject } from "../../../actors/api/json.ts";

describe("Pod defaults", () => {
  const pod = applyDefaults("Pod", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web" },
    spec: { containers: [{ name: "nginx", image: "nginx", ports: [{ containerPort: 80 }] }] },
  });
  const spec = pod.spec as JsonObject;
  const container = (spec.containers as JsonObject[])[0]!;

  it("fills the pod spec defaults", () => {
    expect(spec).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      terminationGracePeriodSeconds: 30,
      schedulerName: "default-scheduler",
      securityContext: {},
      enableServiceLinks: true,
    });
  });

  it("fills the container defaults", () => {
    expect(container).toEqual({
      name: "nginx",
      image: "nginx",
      imagePullPolicy: "Always",
      ports: [{ containerPort: 80, protocol: "TCP" }],
      resources: {},
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
    });
  });

  it("starts Pending with a QoS class", () => {
    expect(pod.status).toEqual({ phase: "Pending", qosClass: "BestEffort" });
  });

  it("keeps values the client set", () => {
    const p = applyDefaults("Pod", { spec: { restartPolicy: "Never", containers: [] } });
    expect((p.spec as JsonObject).restartPolicy).toBe("Never");
  });

  it.each([
    ["nginx", "Always"],
    ["nginx:latest", "Always"],
    ["nginx:1.25", "IfNotPresent"],
    ["registry:5000/app", "Always"],
    ["registry:5000/app:v1", "IfNotPresent"],
    ["app@sha256:abc", "IfNotPresent"],
  ])("image %s pulls %s", (image, policy) => {
    expect(defaultImagePullPolicy(image)).toBe(policy);
  });

  it("defaults probes and volume modes", () => {
    const p = applyDefaults("Pod", {
      spec: {
        containers: [{ name: "c", image: "i:1", livenessProbe: { httpGet: { port: 80 } } }],
        volumes: [{ name: "cfg", configMap: { name: "cm" } }, { name: "scratch" }],
      },
    });
    const s = p.spec as JsonObject;
    expect((s.containers as JsonObject[])[0]!.livenessProbe).toEqual({
      httpGet: { port: 80, scheme: "HTTP" },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(s.volumes).toEqual([
      { name: "cfg", configMap: { name: "cm", defaultMode: 420 } },
      { name: "scratch", emptyDir: {} },
    ]);
  });
});

describe("Service defaults", () => {
  it("ClusterIP, sessionAffinity None, TCP and targetPort = port", () => {
    const svc = applyDefaults("Service", {
      spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
    });
    expect(svc.spec).toEqual({
      selector: { app: "web" },
      ports: [{ port: 80, protocol: "TCP", targetPort: 80 }],
      type: "ClusterIP",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      ipFamilyPolicy: "SingleStack",
    });
    expect(svc.status).toEqual({ loadBalancer: {} });
  });

  it("NodePort and LoadBalancer get externalTrafficPolicy; named target ports stay", () => {
    const svc = applyDefaults("Service", {
      spec: { type: "LoadBalancer", ports: [{ port: 80, targetPort: "http" }] },
    });
    expect(svc.spec).toMatchObject({
      externalTrafficPolicy: "Cluster",
      allocateLoadBalancerNodePorts: true,
      ports: [{ port: 80, targetPort: "http", protocol: "TCP" }],
    });
  });
});

describe("Deployment and ReplicaSet defaults", () => {
  it("replicas 1, RollingUpdate 25%/25%, history 10, deadline 600, template pod defaults", () => {
    const d = applyDefaults("Deployment", {
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "c", image: "i:1" }] },
        },
      },
    });
    const spec = d.spec as JsonObject;
    expect(spec).toMatchObject({
      replicas: 1,
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" },
      },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
    expect((spec.template as JsonObject).spec).toMatchObject({
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
    });
  });

  it("Recreate gets no rollingUpdate", () => {
    const d = applyDefaults("Deployment", { spec: { strategy: { type: "Recreate" } } });
    expect((d.spec as JsonObject).strategy).toEqual({ type: "Recreate" });
  });

  it("ReplicaSet replicas 1", () => {
    expect((applyDefaults("ReplicaSet", { spec: {} }).spec as JsonObject).replicas).toBe(1);
  });
});

describe("other kinds", () => {
  it("namespaces get their name label, the kubernetes finalizer and phase Active", () => {
    const ns = applyDefaults("Namespace", { metadata: { name: "team-a" } });
    expect(ns).toEqual({
      metadata: { name: "team-a", labels: { "kubernetes.io/metadata.name": "team-a" } },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    });
  });

  it("secrets default to Opaque", () => {
    expect(applyDefaults("Secret", { data: {} }).type).toBe("Opaque");
  });

  it("never mutates the input", () => {
    const input = { spec: { containers: [{ name: "c", image: "i" }] } };
    const before = JSON.stringify(input);
    applyDefaults("Pod", input);
    expect(JSON.stringify(input)).toBe(before);
  });
});
