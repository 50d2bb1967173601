/**
 * KubeSchedulerConfiguration (`kubescheduler.config.k8s.io/v1`), read from a YAML file as
 * kube-scheduler's `--config`: profiles, each with its own `schedulerName`, plugins enabled and
 * disabled per extension point (or at every point they implement, `multiPoint`), score weights
 * in the profile, and `pluginConfig` args per plugin. Decoding is strict and validation checks
 * every name against the plugin registry, so a bad file fails at start with the field to fix:
 *
 *   profiles[0].plugins.score.enabled[1].name: Invalid value: "Foo": no plugin registered by that name
 *
 * The Lease (`leaderElection.resourceName`) defaults to `kube-scheduler` for the default
 * scheduler and to the first profile's name for any other, so that schedulers side by side each
 * elect their own leader.
 *
 * Pure: text in, a validated configuration (or a SchedulerConfigError) out; profile.ts builds
 * the plugins from it.
 */
import { parse as parseYaml } from "yaml";
import {
  aggregateText,
  duplicate,
  type FieldError,
  index,
  invalid,
  notSupported,
  required,
} from "../api/field-error.ts";
import { isJsonObject, type JsonObject, type JsonValue } from "../api/json.ts";
import { KUBE_SYSTEM_NAMESPACE } from "../api/well-known.ts";
import { listField, objectField, unknownFieldErrors } from "./plugin-args.ts";
import { EXTENSION_POINTS, type ExtensionPoint, type Registry } from "./registry.ts";

export const SCHEDULER_CONFIG_API_VERSION = "kubescheduler.config.k8s.io/v1";
export const SCHEDULER_CONFIG_KIND = "KubeSchedulerConfiguration";
export const DEFAULT_SCHEDULER_NAME = "default-scheduler";
/** kube-scheduler's Lease: `kube-system/kube-scheduler`. */
export const DEFAULT_SCHEDULER_LEASE = "kube-scheduler";
export const DEFAULT_SCHEDULER_LEASE_NAMESPACE = KUBE_SYSTEM_NAMESPACE;
/** kube's bound on a score plugin's weight in a profile. */
export const MAX_SCORE_WEIGHT = 100;
/** `disabled: [{name: "*"}]` turns off every default plugin at that point. */
export const ALL_PLUGINS = "*";
/** A configuration file larger than this is refused (a real one is a few KiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface PluginRef {
  name: string;
  /** Score weight, null when the file leaves it to the default. */
  weight: number | null;
}

export interface PluginSet {
  enabled: PluginRef[];
  disabled: string[];
}

export type PluginSetName = ExtensionPoint | "multiPoint";
export const PLUGIN_SET_NAMES: readonly PluginSetName[] = ["multiPoint", ...EXTENSION_POINTS];

export interface ProfileConfig {
  schedulerName: string;
  plugins: Record<PluginSetName, PluginSet>;
  /** Args by plugin name. */
  pluginConfig: ReadonlyMap<string, JsonObject>;
}

export interface LeaderElectionConfig {
  leaderElect: boolean;
  resourceName: string;
  resourceNamespace: string;
}

export interface SchedulerConfiguration {
  leaderElection: LeaderElectionConfig;
  profiles: ProfileConfig[];
}

export class SchedulerConfigError extends Error {
  constructor(
    readonly errors: readonly FieldError[],
    source: string,
  ) {
    super(`invalid scheduler configuration ${source}: ${aggregateText(errors)}`);
  }
}

function emptyPlugins(): Record<PluginSetName, PluginSet> {
  const out = {} as Record<PluginSetName, PluginSet>;
  for (const name of PLUGIN_SET_NAMES) out[name] = { enabled: [], disabled: [] };
  return out;
}

/** The configuration with no file: one profile, `default-scheduler`, the default plugins. */
export function defaultSchedulerConfiguration(): SchedulerConfiguration {
  return {
    leaderElection: {
      leaderElect: true,
      resourceName: DEFAULT_SCHEDULER_LEASE,
      resourceNamespace: DEFAULT_SCHEDULER_LEASE_NAMESPACE,
    },
    profiles: [
      { schedulerName: DEFAULT_SCHEDULER_NAME, plugins: emptyPlugins(), pluginConfig: new Map() },
    ],
  };
}

function pluginRefOf(
  value: JsonValue,
  path: string,
  set: PluginSetName,
  registry: Registry,
  errors: FieldError[],
  disabling: boolean,
): PluginRef | null {
  const ref = objectField(value, path, errors);
  errors.push(...unknownFieldErrors(ref, disabling ? ["name"] : ["name", "weight"], path));
  const name = ref.name;
  if (typeof name !== "string" || name === "") {
    errors.push(required(`${path}.name`));
    return null;
  }
  if (disabling && name === ALL_PLUGINS) return { name, weight: null };
  const registration = registry.get(name);
  if (registration === undefined) {
    errors.push(invalid(`${path}.name`, name, "no plugin registered by that name"));
    return null;
  }
  if (set === "multiPoint") {
    if (registration.extensionPoints.length === 0)
      errors.push(invalid(`${path}.name`, name, "the plugin implements no extension point"));
  } else if (!disabling && !registration.extensionPoints.includes(set)) {
    errors.push(
      invalid(
        `${path}.name`,
        name,
        `the plugin does not implement ${set} (it implements ${registration.extensionPoints.join(", ")})`,
      ),
    );
  }
  let weight: number | null = null;
  if (ref.weight !== undefined && ref.weight !== null) {
    const w = ref.weight;
    if (set !== "score" && set !== "multiPoint")
      errors.push(invalid(`${path}.weight`, w, "only score plugins have a weight"));
    else if (typeof w !== "number" || !Number.isInteger(w) || w < 0 || w > MAX_SCORE_WEIGHT)
      errors.push(invalid(`${path}.weight`, w, `must be an integer in [0, ${MAX_SCORE_WEIGHT}]`));
    else if (w > 0) weight = w; // 0 is "unset", as in kube
  }
  return { name, weight };
}

function pluginSetOf(
  value: JsonValue | undefined,
  path: string,
  set: PluginSetName,
  registry: Registry,
  errors: FieldError[],
): PluginSet {
  const obj = objectField(value, path, errors);
  errors.push(...unknownFieldErrors(obj, ["enabled", "disabled"], path));
  const enabled: PluginRef[] = [];
  const seen = new Set<string>();
  listField(obj.enabled, `${path}.enabled`, errors).forEach((v, i) => {
    const at = index(`${path}.enabled`, i);
    const ref = pluginRefOf(v, at, set, registry, errors, false);
    if (ref === null) return;
    if (seen.has(ref.name)) errors.push(duplicate(`${at}.name`, ref.name));
    seen.add(ref.name);
    enabled.push(ref);
  });
  const disabled: string[] = [];
  listField(obj.disabled, `${path}.disabled`, errors).forEach((v, i) => {
    const ref = pluginRefOf(v, index(`${path}.disabled`, i), set, registry, errors, true);
    if (ref !== null) disabled.push(ref.name);
  });
  return { enabled, disabled };
}

function profileOf(
  value: JsonValue,
  path: string,
  only: boolean,
  registry: Registry,
  errors: FieldError[],
): ProfileConfig {
  const obj = objectField(value, path, errors);
  errors.push(...unknownFieldErrors(obj, ["schedulerName", "plugins", "pluginConfig"], path));
  let schedulerName = obj.schedulerName;
  // kube defaults the name only when there is one profile
  if ((schedulerName === undefined || schedulerName === null) && only)
    schedulerName = DEFAULT_SCHEDULER_NAME;
  if (typeof schedulerName !== "string" || schedulerName === "") {
    errors.push(required(`${path}.schedulerName`));
    schedulerName = "";
  }
  const pluginsPath = `${path}.plugins`;
  const pluginsObj = objectField(obj.plugins, pluginsPath, errors);
  errors.push(...unknownFieldErrors(pluginsObj, PLUGIN_SET_NAMES, pluginsPath));
  const plugins = emptyPlugins();
  for (const set of PLUGIN_SET_NAMES)
    plugins[set] = pluginSetOf(pluginsObj[set], `${pluginsPath}.${set}`, set, registry, errors);
  const pluginConfig = new Map<string, JsonObject>();
  listField(obj.pluginConfig, `${path}.pluginConfig`, errors).forEach((v, i) => {
    const at = index(`${path}.pluginConfig`, i);
    const entry = objectField(v, at, errors);
    errors.push(...unknownFieldErrors(entry, ["name", "args"], at));
    const name = entry.name;
    if (typeof name !== "string" || name === "") {
      errors.push(required(`${at}.name`));
      return;
    }
    const registration = registry.get(name);
    if (registration === undefined) {
      errors.push(invalid(`${at}.name`, name, "no plugin registered by that name"));
      return;
    }
    if (pluginConfig.has(name)) {
      errors.push(duplicate(`${at}.name`, name));
      return;
    }
    const args = objectField(entry.args, `${at}.args`, errors);
    errors.push(...(registration.validateArgs?.(args, `${at}.args`) ?? []));
    pluginConfig.set(name, args);
  });
  return { schedulerName, plugins, pluginConfig };
}

/** Validates a decoded configuration object; every finding is a field error. */
export function schedulerConfigurationOf(
  value: JsonValue,
  registry: Registry,
): { config: SchedulerConfiguration; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const config = defaultSchedulerConfiguration();
  if (!isJsonObject(value)) {
    errors.push(invalid("", value, "must be a KubeSchedulerConfiguration object"));
    return { config, errors };
  }
  errors.push(
    ...unknownFieldErrors(value, ["apiVersion", "kind", "leaderElection", "profiles"], ""),
  );
  if (value.apiVersion !== SCHEDULER_CONFIG_API_VERSION)
    errors.push(notSupported("apiVersion", value.apiVersion ?? "", [SCHEDULER_CONFIG_API_VERSION]));
  if (value.kind !== SCHEDULER_CONFIG_KIND)
    errors.push(notSupported("kind", value.kind ?? "", [SCHEDULER_CONFIG_KIND]));
  const le = objectField(value.leaderElection, "leaderElection", errors);
  errors.push(
    ...unknownFieldErrors(
      le,
      ["leaderElect", "resourceName", "resourceNamespace"],
      "leaderElection",
    ),
  );
  if (le.leaderElect !== undefined) {
    if (typeof le.leaderElect === "boolean") config.leaderElection.leaderElect = le.leaderElect;
    else
      errors.push(invalid("leaderElection.leaderElect", le.leaderElect, "must be true or false"));
  }
  for (const field of ["resourceName", "resourceNamespace"] as const) {
    const v = le[field];
    if (v === undefined) continue;
    if (typeof v === "string" && v !== "") config.leaderElection[field] = v;
    else errors.push(invalid(`leaderElection.${field}`, v, "must be a non-empty string"));
  }
  const profiles = listField(value.profiles, "profiles", errors);
  if (profiles.length > 0) {
    config.profiles = profiles.map((p, i) =>
      profileOf(p, index("profiles", i), profiles.length === 1, registry, errors),
    );
    // a second scheduler must not contend for the default one's Lease: unless the file names
    // one, its Lease is named after its (first) profile
    const first = config.profiles[0]?.schedulerName ?? "";
    if (le.resourceName === undefined && first !== "" && first !== DEFAULT_SCHEDULER_NAME)
      config.leaderElection.resourceName = first;
    const names = new Set<string>();
    config.profiles.forEach((p, i) => {
      if (p.schedulerName === "") return;
      if (names.has(p.schedulerName))
        errors.push(duplicate(`${index("profiles", i)}.schedulerName`, p.schedulerName));
      names.add(p.schedulerName);
    });
  }
  return { config, errors };
}

/** Reads a KubeSchedulerConfiguration from YAML (or JSON) text; throws SchedulerConfigError. */
export function parseSchedulerConfiguration(
  text: string,
  registry: Registry,
  source = "<config>",
): SchedulerConfiguration {
  if (text.length > MAX_CONFIG_BYTES)
    throw new SchedulerConfigError(
      [invalid("", `${text.length} bytes`, `larger than ${MAX_CONFIG_BYTES} bytes`)],
      source,
    );
  let decoded: unknown;
  try {
    decoded = parseYaml(text);
  } catch (error) {
    throw new SchedulerConfigError(
      [invalid("", "<yaml>", (error as Error).message.split("\n")[0] ?? "")],
      source,
    );
  }
  const { config, errors } = schedulerConfigurationOf(decoded as JsonValue, registry);
  if (errors.length > 0) throw new SchedulerConfigError(errors, source);
  return config;
}
