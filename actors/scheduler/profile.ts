/**
 * A profile's plugins from its configuration (kube-scheduler's `mergePlugins` and the
 * framework's multiPoint expansion): start from the default plugins, apply the profile's
 * `multiPoint` set, keep at each extension point those that implement it, then apply that
 * point's own set. Merging a set keeps the defaults' order, re-configures a default in place
 * when the set enables it again (a new weight), appends the rest, and drops what it disables
 * (`*`: every default). Each plugin is built once per profile, with its `pluginConfig` args.
 */
import type { PluginRef, PluginSet, ProfileConfig } from "./config.ts";
import { ALL_PLUGINS } from "./config.ts";
import { DEFAULT_PLUGINS } from "./default-plugins.ts";
import type { FrameworkHandle, Plugin, Profile, WeightedScore } from "./framework.ts";
import {
  EXTENSION_POINTS,
  type ExtensionPoint,
  extensionPointsOf,
  type PluginAt,
  type Registry,
} from "./registry.ts";

/** kube's `mergePluginSet`. */
export function mergePluginSet(defaults: readonly PluginRef[], custom: PluginSet): PluginRef[] {
  const disabled = new Set(custom.disabled);
  const custom_ = new Map(custom.enabled.map((p, i) => [p.name, { p, i }]));
  const replaced = new Set<number>();
  const out: PluginRef[] = [];
  if (!disabled.has(ALL_PLUGINS)) {
    for (const d of defaults) {
      if (disabled.has(d.name)) continue;
      const c = custom_.get(d.name);
      if (c === undefined) out.push(d);
      else {
        replaced.add(c.i);
        out.push({ name: d.name, weight: c.p.weight ?? d.weight });
      }
    }
  }
  custom.enabled.forEach((p, i) => {
    if (!replaced.has(i)) out.push(p);
  });
  return out;
}

/** Per extension point, the plugin names (and score weights) a profile runs, in order. */
export function enabledPlugins(
  config: ProfileConfig,
  registry: Registry,
): Record<ExtensionPoint, PluginRef[]> {
  const multi = mergePluginSet(DEFAULT_PLUGINS, config.plugins.multiPoint);
  const out = {} as Record<ExtensionPoint, PluginRef[]>;
  for (const point of EXTENSION_POINTS) {
    const atPoint = multi.filter((p) => registry.get(p.name)?.extensionPoints.includes(point));
    out[point] = mergePluginSet(atPoint, config.plugins[point]);
  }
  return out;
}

export function buildProfile(
  config: ProfileConfig,
  registry: Registry,
  handle: FrameworkHandle,
): Profile {
  const instances = new Map<string, Plugin>();
  const instance = <P extends ExtensionPoint>(name: string, point: P): PluginAt[P] => {
    let plugin = instances.get(name);
    if (plugin === undefined) {
      const registration = registry.get(name);
      if (registration === undefined) throw new Error(`plugin "${name}" is not registered`);
      plugin = registration.factory(config.pluginConfig.get(name) ?? {}, handle);
      instances.set(name, plugin);
    }
    // the configuration was validated against the registration: a mismatch is the plugin's bug
    if (!extensionPointsOf(plugin).includes(point))
      throw new Error(`plugin "${name}" was registered for ${point} but does not implement it`);
    return plugin as PluginAt[P];
  };
  const enabled = enabledPlugins(config, registry);
  const at = <P extends ExtensionPoint>(point: P): PluginAt[P][] =>
    enabled[point].map((p) => instance(p.name, point));
  const scores: WeightedScore[] = enabled.score.map((p) => ({
    plugin: instance(p.name, "score"),
    weight: p.weight ?? 1,
  }));
  return {
    schedulerName: config.schedulerName,
    preFilters: at("preFilter"),
    filters: at("filter"),
    postFilters: at("postFilter"),
    preScores: at("preScore"),
    scores,
    reserves: at("reserve"),
    permits: at("permit"),
    preBinds: at("preBind"),
    binds: at("bind"),
    postBinds: at("postBind"),
  };
}
