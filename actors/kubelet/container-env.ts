/**
 * A container's environment, command and args, as the kubelet makes them (kubelet_pods.go's
 * makeEnvironmentVariables and kubecontainer's ExpandContainerCommandAndArgs). Pure: the
 * ConfigMaps and Secrets it refers to are fetched first (`envReferences`) and handed in.
 *
 * 1. bosun's pod facts (POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME: the catalog images read
 *    them), then the Service variables the caller hands in.
 * 2. `envFrom`, in order: every key of the ConfigMap or Secret, under its `prefix`; a key that is
 *    not a valid variable name is skipped (and said); a missing source is an error unless
 *    `optional`.
 * 3. `env`, in order: `value` with `$(VAR)` expanded against what is defined so far;
 *    `valueFrom.fieldRef` (metadata.name/namespace/uid/labels['k']/annotations['k'],
 *    spec.nodeName, spec.serviceAccountName, status.podIP(s), status.hostIP(s)),
 *    `resourceFieldRef` (limits/requests of cpu, memory, ephemeral-storage, with a divisor; an
 *    unset limit is the node's allocatable), `configMapKeyRef` and `secretKeyRef` (a missing
 *    object or key is an error unless `optional`). Later definitions win.
 * 4. `command` and `args` expanded against the final environment.
 *
 * An error is Kubernetes' CreateContainerConfigError: the container waits, with the message.
 *
 * Expansion (third_party/forked/golang/expansion): `$(NAME)` is NAME's value, or left as
 * written when NAME is not defined; `$$` is a literal `$` (so `$$(NAME)` stays `$(NAME)`); a `$`
 * before anything else, or an unclosed `$(`, is kept as is.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { quantityMilliValue, quantityValue } from "../api/quantity.ts";

/** Kubernetes' CreateContainerConfigError: a required reference could not be resolved. */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerConfigError";
  }
}

/** The objects a container's environment refers to, by name; null: not found. */
export interface EnvSources {
  configMaps: ReadonlyMap<string, JsonObject | null>;
  secrets: ReadonlyMap<string, JsonObject | null>;
}

export const NO_ENV_SOURCES: EnvSources = { configMaps: new Map(), secrets: new Map() };

export interface ContainerConfigInput {
  pod: JsonObject;
  container: JsonObject;
  podIP: string;
  hostIP: string;
  nodeName: string;
  /** The node's allocatable cpu and memory: what an unset limit reads as. */
  nodeAllocatable: Record<string, string>;
  sources: EnvSources;
  /** The Service variables (`<SVC>_SERVICE_HOST`, …), defined before the container's own. */
  serviceEnv?: Record<string, string>;
}

export interface ContainerConfig {
  env: Record<string, string>;
  command: string[];
  args: string[];
  /** What was skipped and why (the kubelet's InvalidEnvironmentVariableNames warning). */
  warnings: string[];
}

/** Kubernetes' IsEnvVarName: `[-._a-zA-Z][-._a-zA-Z0-9]*`. */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** `$(NAME)` references expanded by `lookup`; see the header for the rules. */
export function expandVariables(input: string, lookup: (name: string) => string | undefined) {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === "$") {
      out += "$";
    } else if (rest[0] === "(") {
      const close = rest.indexOf(")");
      if (close === -1) {
        out += "$(";
      } else {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      }
    } else {
      out += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** The ConfigMaps and Secrets `container`'s environment names (to fetch before resolving). */
export function envReferences(container: JsonObject): { configMaps: string[]; secrets: string[] } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const source of (container.envFrom ?? []) as JsonObject[]) {
    const cm = asString(asObject(source.configMapRef).name);
    const secret = asString(asObject(source.secretRef).name);
    if (cm) configMaps.add(cm);
    if (secret) secrets.add(secret);
  }
  for (const e of (container.env ?? []) as JsonObject[]) {
    const from = asObject(e.valueFrom);
    const cm = asString(asObject(from.configMapKeyRef).name);
    const secret = asString(asObject(from.secretKeyRef).name);
    if (cm) configMaps.add(cm);
    if (secret) secrets.add(secret);
  }
  return { configMaps: [...configMaps], secrets: [...secrets] };
}

type KeyValues = Record<string, string>;

/** A ConfigMap's data and binaryData (as text), or a Secret's data base64-decoded. */
function dataOf(kind: "ConfigMap" | "Secret", object: JsonObject): KeyValues {
  const out: KeyValues = {};
  if (kind === "ConfigMap") {
    for (const [k, v] of Object.entries(asObject(object.binaryData)))
      out[k] = Buffer.from(String(v), "base64").toString("utf8");
    for (const [k, v] of Object.entries(asObject(object.data))) out[k] = String(v);
  } else {
    for (const [k, v] of Object.entries(asObject(object.data)))
      out[k] = Buffer.from(String(v), "base64").toString("utf8");
    for (const [k, v] of Object.entries(asObject(object.stringData))) out[k] = String(v);
  }
  return out;
}

const NOT_FOUND_NOUN = { ConfigMap: "configmap", Secret: "secret" } as const;

function sourceData(
  kind: "ConfigMap" | "Secret",
  name: string,
  sources: EnvSources,
  optional: boolean,
): KeyValues | null {
  const object = (kind === "ConfigMap" ? sources.configMaps : sources.secrets).get(name) ?? null;
  if (object !== null) return dataOf(kind, object);
  if (optional) return null;
  throw new ContainerConfigError(`${NOT_FOUND_NOUN[kind]} "${name}" not found`);
}

/** `metadata.labels['app']` → ["labels", "app"]. */
function subscripted(path: string): [string, string] | null {
  const match = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
  return match ? [match[1]!, match[2]!] : null;
}

function fieldRefValue(input: ContainerConfigInput, fieldPath: string): string {
  const meta = asObject(input.pod.metadata);
  const keyed = subscripted(fieldPath);
  if (keyed !== null) return asString(asObject(meta[keyed[0]])[keyed[1]]);
  const facts: Record<string, string> = {
    "metadata.name": asString(meta.name),
    "metadata.namespace": asString(meta.namespace) || "default",
    "metadata.uid": asString(meta.uid),
    "spec.nodeName": input.nodeName,
    "spec.serviceAccountName": asString(asObject(input.pod.spec).serviceAccountName) || "default",
    "status.podIP": input.podIP,
    "status.podIPs": input.podIP,
    "status.hostIP": input.hostIP,
    "status.hostIPs": input.hostIP,
  };
  const value = facts[fieldPath];
  if (value === undefined)
    throw new ContainerConfigError(`unsupported fieldRef fieldPath "${fieldPath}"`);
  return value;
}

/** Kubernetes' ExtractContainerResourceValue: ceil(quantity / divisor). */
function resourceFieldValue(input: ContainerConfigInput, ref: JsonObject): string {
  const resource = asString(ref.resource);
  const named = asString(ref.containerName);
  const container =
    named === ""
      ? input.container
      : (((asObject(input.pod.spec).containers ?? []) as JsonObject[]).find(
          (c) => c.name === named,
        ) ?? null);
  if (container === null)
    throw new ContainerConfigError(`resourceFieldRef: container "${named}" not found`);
  const [section, name] = resource.split(/\.(.*)/s) as [string, string | undefined];
  if ((section !== "limits" && section !== "requests") || name === undefined)
    throw new ContainerConfigError(`unsupported resourceFieldRef resource "${resource}"`);
  const resources = asObject(container.resources);
  let quantity = asObject(resources[section])[name] as string | number | undefined;
  // an unset limit is what the container may use: the node's allocatable
  if (quantity === undefined && section === "limits") quantity = input.nodeAllocatable[name];
  const divisor = (ref.divisor as string | number | undefined) ?? "1";
  if (quantity === undefined) return "0";
  if (name === "cpu")
    return String(Math.ceil(quantityMilliValue(quantity) / quantityMilliValue(divisor)));
  return String(Math.ceil(quantityValue(quantity) / quantityValue(divisor)));
}

function keyRefValue(
  kind: "ConfigMap" | "Secret",
  ref: JsonObject,
  input: ContainerConfigInput,
): string | null {
  const name = asString(ref.name);
  const key = asString(ref.key);
  const optional = ref.optional === true;
  const data = sourceData(kind, name, input.sources, optional);
  if (data === null) return null;
  const value = data[key];
  if (value !== undefined) return value;
  if (optional) return null;
  const namespace = asString(asObject(input.pod.metadata).namespace) || "default";
  throw new ContainerConfigError(`couldn't find key ${key} in ${kind} ${namespace}/${name}`);
}

/** The container's environment, command and args; throws ContainerConfigError. */
export function resolveContainerConfig(input: ContainerConfigInput): ContainerConfig {
  const meta = asObject(input.pod.metadata);
  const env: Record<string, string> = {
    POD_NAME: asString(meta.name),
    POD_NAMESPACE: asString(meta.namespace) || "default",
    POD_IP: input.podIP,
    NODE_NAME: input.nodeName,
    ...input.serviceEnv,
  };
  const warnings: string[] = [];
  const namespace = asString(meta.namespace) || "default";
  for (const source of (input.container.envFrom ?? []) as JsonObject[]) {
    const kind = source.configMapRef ? "ConfigMap" : source.secretRef ? "Secret" : null;
    if (kind === null) continue;
    const ref = asObject(kind === "ConfigMap" ? source.configMapRef : source.secretRef);
    const name = asString(ref.name);
    const data = sourceData(kind, name, input.sources, ref.optional === true);
    if (data === null) continue;
    const prefix = asString(source.prefix);
    const invalid: string[] = [];
    for (const [key, value] of Object.entries(data)) {
      const variable = `${prefix}${key}`;
      if (ENV_VAR_NAME.test(variable)) env[variable] = value;
      else invalid.push(variable);
    }
    if (invalid.length > 0)
      warnings.push(
        `Keys [${invalid.sort().join(", ")}] from the EnvFrom ${kind.toLowerCase()} ${namespace}/${name} were skipped since they are considered invalid environment variable names.`,
      );
  }
  for (const e of (input.container.env ?? []) as JsonObject[]) {
    const name = asString(e.name);
    if (e.valueFrom === undefined) {
      env[name] = expandVariables(asString(e.value), (v) => env[v]);
      continue;
    }
    const from = asObject(e.valueFrom);
    let value: string | null;
    if (from.fieldRef) value = fieldRefValue(input, asString(asObject(from.fieldRef).fieldPath));
    else if (from.resourceFieldRef)
      value = resourceFieldValue(input, asObject(from.resourceFieldRef));
    else if (from.configMapKeyRef)
      value = keyRefValue("ConfigMap", asObject(from.configMapKeyRef), input);
    else if (from.secretKeyRef) value = keyRefValue("Secret", asObject(from.secretKeyRef), input);
    else value = null;
    if (value !== null) env[name] = value;
  }
  const expand = (list: unknown) =>
    ((list ?? []) as unknown[]).map((s) => expandVariables(String(s), (v) => env[v]));
  return {
    env,
    command: expand(input.container.command),
    args: expand(input.container.args),
    warnings,
  };
}
