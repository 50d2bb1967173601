/**
 * A proxier in a kernel mode in a process of its own, for kernel-rules.test.ts to SIGKILL:
 * `kernel-proxier-child.ts MODE CLUSTER NODE CLUSTER_IP PORT ENDPOINT` holds the cluster IPs,
 * forwards CLUSTER_IP:PORT to ENDPOINT (ip:port) and prints "ready" once its rules are in.
 */
import { pino } from "pino";
import { DEFAULT_PROXY_LIMITS } from "../../../actors/proxy/limits.ts";
import { Proxier } from "../../../actors/proxy/proxier.ts";
import type { ProxyMode } from "../../../actors/proxy/proxy-mode.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";

const [mode, cluster, node, clusterIP, port, endpoint] = process.argv.slice(2).map(String) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const [ip, targetPort] = endpoint.split(":") as [string, string];
const proxier = new Proxier({
  nodeName: node,
  nodeAddress: "127.0.0.1",
  clock: new SystemClock(),
  logger: pino({ level: "silent" }),
  limits: DEFAULT_PROXY_LIMITS,
  mode: mode as ProxyMode,
  clusterIdentity: cluster,
});
proxier.recordService({
  metadata: { namespace: "t", name: "web" },
  spec: { clusterIP, ports: [{ port: Number(port) }] },
});
proxier.recordSlice({
  metadata: { namespace: "t", name: "web-a", labels: { "kubernetes.io/service-name": "web" } },
  addressType: "IPv4",
  ports: [{ name: "", port: Number(targetPort), protocol: "TCP" }],
  endpoints: [{ addresses: [ip], conditions: { ready: true } }],
});
proxier.setHolding(true);
proxier.syncService("t/web");
await waitFor(
  "the rules",
  () =>
    proxier.report().every((r) => r.clusterIPListening) &&
    (proxier.kernelRules?.settled() ?? false),
);
process.on("SIGTERM", () => {
  proxier.stop();
  process.exit(0);
});
console.log("ready");
