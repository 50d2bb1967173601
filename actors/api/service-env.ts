/**
 * The Service environment variables a container starts with (kubelet's getServiceEnvVarMap and
 * k8s.io/kubernetes/pkg/kubelet/envvars.FromServices). Pure.
 *
 * For each Service with a cluster IP (headless and IP-less ones are skipped), with its name
 * mangled (upper case, `-` → `_`):
 *
 *   {SVC}_SERVICE_HOST=10.0.0.11            {SVC}_SERVICE_PORT=6379 (the first port)
 *   {SVC}_SERVICE_PORT_{PORTNAME}=6379      (each named port)
 *   {SVC}_PORT=tcp://10.0.0.11:6379         (Docker links: the first port)
 *   {SVC}_PORT_6379_TCP=tcp://10.0.0.11:6379
 *   {SVC}_PORT_6379_TCP_PROTO=tcp  {SVC}_PORT_6379_TCP_PORT=6379  {SVC}_PORT_6379_TCP_ADDR=10.0.0.11
 *
 * Which Services: those of the pod's namespace when `enableServiceLinks` (default true), and
 * always the `kubernetes` Service of `default` (the "master service"), unless the pod's own
 * namespace has a Service of that name and links are on.
 */
import { asObject, type JsonObject } from "./json.ts";
import { DEFAULT_NAMESPACE } from "./well-known.ts";

/** The Services whose variables every pod gets, whatever its enableServiceLinks. */
export const MASTER_SERVICES = new Set(["kubernetes"]);

export function envVarName(serviceOrPort: string): string {
  return serviceOrPort.toUpperCase().replaceAll("-", "_");
}

function clusterIPOf(service: JsonObject): string | null {
  const ip = asObject(service.spec).clusterIP;
  return typeof ip === "string" && ip !== "" && ip !== "None" ? ip : null;
}

/** envvars.FromServices: the variables of the given Services, in their order. */
export function serviceEnvVars(services: JsonObject[]): [string, string][] {
  const out: [string, string][] = [];
  for (const service of services) {
    const ip = clusterIPOf(service);
    const ports = (asObject(service.spec).ports ?? []) as JsonObject[];
    if (ip === null || !Array.isArray(ports) || ports.length === 0) continue;
    const prefix = envVarName(String(asObject(service.metadata).name ?? ""));
    const host = `${prefix}_SERVICE_HOST`;
    out.push([host, ip]);
    const first = `${prefix}_SERVICE_PORT`;
    out.push([first, String(ports[0]?.port)]);
    for (const p of ports) {
      if (typeof p.name === "string" && p.name !== "")
        out.push([`${first}_${envVarName(p.name)}`, String(p.port)]);
    }
    ports.forEach((p, i) => {
      const protocol = typeof p.protocol === "string" && p.protocol !== "" ? p.protocol : "TCP";
      const url = `${protocol.toLowerCase()}://${ip}:${p.port}`;
      if (i === 0) out.push([`${prefix}_PORT`, url]);
      const portPrefix = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
      out.push([portPrefix, url]);
      out.push([`${portPrefix}_PROTO`, protocol.toLowerCase()]);
      out.push([`${portPrefix}_PORT`, String(p.port)]);
      out.push([`${portPrefix}_ADDR`, ip]);
    });
  }
  return out;
}

/**
 * The Service variables for a pod of `namespace` (kubelet's getServiceEnvVarMap): from
 * `services` (every namespace's; the kubelet's informer), honouring `enableServiceLinks`.
 */
export function serviceEnvForPod(
  services: JsonObject[],
  namespace: string,
  enableServiceLinks: boolean,
): Record<string, string> {
  const chosen = new Map<string, JsonObject>();
  for (const service of services) {
    if (clusterIPOf(service) === null) continue;
    const meta = asObject(service.metadata);
    const name = String(meta.name ?? "");
    const ns = String(meta.namespace ?? DEFAULT_NAMESPACE);
    if (ns === DEFAULT_NAMESPACE && MASTER_SERVICES.has(name)) {
      if (!chosen.has(name)) chosen.set(name, service);
    } else if (ns === namespace && enableServiceLinks) chosen.set(name, service);
  }
  return Object.fromEntries(serviceEnvVars([...chosen.values()]));
}
