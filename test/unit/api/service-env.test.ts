/**
 * Service environment variables, against Kubernetes' documented examples (the "Discovering
 * services" section of the Service concept page, and envvars_test.go's FromServices case) and
 * the kubelet's rules: headless skipped, enableServiceLinks, the `kubernetes` Service always.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import { serviceEnvForPod, serviceEnvVars } from "../../../actors/api/service-env.ts";

function svc(namespace: string, name: string, clusterIP: string, ports: JsonObject[]): JsonObject {
  return { metadata: { namespace, name }, spec: { clusterIP, ports } };
}

describe("serviceEnvVars (envvars.FromServices)", () => {
  it("the docs' redis-primary example: TCP port 6379 on 10.0.0.11", () => {
    const vars = serviceEnvVars([
      svc("default", "redis-primary", "10.0.0.11", [{ port: 6379, protocol: "TCP" }]),
    ]);
    expect(vars).toEqual([
      ["REDIS_PRIMARY_SERVICE_HOST", "10.0.0.11"],
      ["REDIS_PRIMARY_SERVICE_PORT", "6379"],
      ["REDIS_PRIMARY_PORT", "tcp://10.0.0.11:6379"],
      ["REDIS_PRIMARY_PORT_6379_TCP", "tcp://10.0.0.11:6379"],
      ["REDIS_PRIMARY_PORT_6379_TCP_PROTO", "tcp"],
      ["REDIS_PRIMARY_PORT_6379_TCP_PORT", "6379"],
      ["REDIS_PRIMARY_PORT_6379_TCP_ADDR", "10.0.0.11"],
    ]);
  });

  it("envvars_test.go: named ports mangled, the first port's protocol in {SVC}_PORT, headless skipped", () => {
    const vars = serviceEnvVars([
      svc("default", "foo-bar", "1.2.3.4", [{ port: 8080, protocol: "TCP" }]),
      svc("default", "abc-123", "5.6.7.8", [
        { name: "u-d-p", port: 8081, protocol: "UDP" },
        { name: "t-c-p", port: 8081, protocol: "TCP" },
      ]),
      svc("default", "q-u-u-x", "9.8.7.6", [
        { port: 8082, protocol: "TCP" },
        { name: "8083", port: 8083, protocol: "TCP" },
      ]),
      svc("default", "svrc-clusterip-none", "None", [{ port: 8082, protocol: "TCP" }]),
      svc("default", "svrc-clusterip-empty", "", [{ port: 8082, protocol: "TCP" }]),
    ]);
    expect(vars).toEqual([
      ["FOO_BAR_SERVICE_HOST", "1.2.3.4"],
      ["FOO_BAR_SERVICE_PORT", "8080"],
      ["FOO_BAR_PORT", "tcp://1.2.3.4:8080"],
      ["FOO_BAR_PORT_8080_TCP", "tcp://1.2.3.4:8080"],
      ["FOO_BAR_PORT_8080_TCP_PROTO", "tcp"],
      ["FOO_BAR_PORT_8080_TCP_PORT", "8080"],
      ["FOO_BAR_PORT_8080_TCP_ADDR", "1.2.3.4"],
      ["ABC_123_SERVICE_HOST", "5.6.7.8"],
      ["ABC_123_SERVICE_PORT", "8081"],
      ["ABC_123_SERVICE_PORT_U_D_P", "8081"],
      ["ABC_123_SERVICE_PORT_T_C_P", "8081"],
      ["ABC_123_PORT", "udp://5.6.7.8:8081"],
      ["ABC_123_PORT_8081_UDP", "udp://5.6.7.8:8081"],
      ["ABC_123_PORT_8081_UDP_PROTO", "udp"],
      ["ABC_123_PORT_8081_UDP_PORT", "8081"],
      ["ABC_123_PORT_8081_UDP_ADDR", "5.6.7.8"],
      ["ABC_123_PORT_8081_TCP", "tcp://5.6.7.8:8081"],
      ["ABC_123_PORT_8081_TCP_PROTO", "tcp"],
      ["ABC_123_PORT_8081_TCP_PORT", "8081"],
      ["ABC_123_PORT_8081_TCP_ADDR", "5.6.7.8"],
      ["Q_U_U_X_SERVICE_HOST", "9.8.7.6"],
      ["Q_U_U_X_SERVICE_PORT", "8082"],
      ["Q_U_U_X_SERVICE_PORT_8083", "8083"],
      ["Q_U_U_X_PORT", "tcp://9.8.7.6:8082"],
      ["Q_U_U_X_PORT_8082_TCP", "tcp://9.8.7.6:8082"],
      ["Q_U_U_X_PORT_8082_TCP_PROTO", "tcp"],
      ["Q_U_U_X_PORT_8082_TCP_PORT", "8082"],
      ["Q_U_U_X_PORT_8082_TCP_ADDR", "9.8.7.6"],
      ["Q_U_U_X_PORT_8083_TCP", "tcp://9.8.7.6:8083"],
      ["Q_U_U_X_PORT_8083_TCP_PROTO", "tcp"],
      ["Q_U_U_X_PORT_8083_TCP_PORT", "8083"],
      ["Q_U_U_X_PORT_8083_TCP_ADDR", "9.8.7.6"],
    ]);
  });
});

describe("serviceEnvForPod (kubelet's getServiceEnvVarMap)", () => {
  const kubernetes = svc("default", "kubernetes", "127.96.0.1", [
    { name: "https", port: 443, protocol: "TCP" },
  ]);
  const web = svc("shop", "web", "127.96.0.20", [{ port: 80 }]);
  const other = svc("other", "db", "127.96.0.30", [{ port: 5432 }]);

  it("gives a pod its namespace's Services and the kubernetes Service, not other namespaces'", () => {
    const env = serviceEnvForPod([kubernetes, web, other], "shop", true);
    expect(env.WEB_SERVICE_HOST).toBe("127.96.0.20");
    expect(env.KUBERNETES_SERVICE_HOST).toBe("127.96.0.1");
    expect(env.KUBERNETES_SERVICE_PORT).toBe("443");
    expect(env.KUBERNETES_SERVICE_PORT_HTTPS).toBe("443");
    expect(env.DB_SERVICE_HOST).toBeUndefined();
  });

  it("enableServiceLinks: false keeps only KUBERNETES_SERVICE_*", () => {
    const env = serviceEnvForPod([kubernetes, web], "shop", false);
    expect(env.WEB_SERVICE_HOST).toBeUndefined();
    expect(env.KUBERNETES_SERVICE_HOST).toBe("127.96.0.1");
  });

  it("a Service named kubernetes in the pod's own namespace wins when links are on", () => {
    const own = svc("shop", "kubernetes", "127.96.0.99", [{ port: 443 }]);
    expect(serviceEnvForPod([kubernetes, own], "shop", true).KUBERNETES_SERVICE_HOST).toBe(
      "127.96.0.99",
    );
    expect(serviceEnvForPod([own, kubernetes], "shop", false).KUBERNETES_SERVICE_HOST).toBe(
      "127.96.0.1",
    );
  });
});
