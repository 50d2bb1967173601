/**
 * The plugin registry (kube-scheduler's `frameworkruntime.Registry`): plugin name → how to build
 * it from its args. The in-tree plugins are registered in in-tree-plugins.ts; an out-of-tree
 * plugin (a custom scheduler's, see examples/custom-scheduler) is a module exporting more
 * registrations, merged in by name. Which plugins a profile runs is its configuration's, never
 * the registry's.
 */
import type { FieldError } from "../api/field-error.ts";
import type { JsonObject } from "../api/json.ts";
import type {
  BindPlugin,
  FilterPlugin,
  FrameworkHandle,
  PermitPlugin,
  Plugin,
  PostBindPlugin,
  PostFilterPlugin,
  PreBindPlugin,
  PreFilterPlugin,
  PreScorePlugin,
  ReservePlugin,
  ScorePlugin,
} from "./framework.ts";

export interface PluginRegistration {
  readonly name: string;
  /** Builds one instance per profile with its (validated) args; `{}` when none are given. */
  readonly factory: (args: JsonObject, handle: FrameworkHandle) => Plugin;
  /** The extension points its instances implement (checked against the configuration). */
  readonly extensionPoints: readonly ExtensionPoint[];
  /** What is wrong with `args` (`path` is where they sit in the configuration file). */
  readonly validateArgs?: (args: JsonObject, path: string) => FieldError[];
}

export type Registry = ReadonlyMap<string, PluginRegistration>;

/** The extension points, as KubeSchedulerConfiguration's `plugins` names them. */
export const EXTENSION_POINTS = [
  "preFilter",
  "filter",
  "postFilter",
  "preScore",
  "score",
  "reserve",
  "permit",
  "preBind",
  "bind",
  "postBind",
] as const;

export type ExtensionPoint = (typeof EXTENSION_POINTS)[number];

/** The extension points a built plugin implements (by the methods it has). */
export function extensionPointsOf(plugin: Plugin): ExtensionPoint[] {
  const has = (method: string) =>
    typeof (plugin as unknown as Record<string, unknown>)[method] === "function";
  const points: ExtensionPoint[] = [];
  if (has("preFilter")) points.push("preFilter");
  if (has("prepareFilter")) points.push("filter");
  if (has("postFilter")) points.push("postFilter");
  if (has("preScore")) points.push("preScore");
  if (has("prepareScore")) points.push("score");
  if (has("reserve") && has("unreserve")) points.push("reserve");
  if (has("permit")) points.push("permit");
  if (has("preBind")) points.push("preBind");
  if (has("bind")) points.push("bind");
  if (has("postBind")) points.push("postBind");
  return points;
}

/** Narrowing for the profile builder: the plugin, typed for the point it was placed at. */
export interface PluginAt {
  preFilter: PreFilterPlugin;
  filter: FilterPlugin;
  postFilter: PostFilterPlugin;
  preScore: PreScorePlugin;
  score: ScorePlugin;
  reserve: ReservePlugin;
  permit: PermitPlugin;
  preBind: PreBindPlugin;
  bind: BindPlugin;
  postBind: PostBindPlugin;
}

/** `base` plus `extra`; a name registered twice is an error naming it. */
export function mergeRegistries(base: Registry, extra: Iterable<PluginRegistration>): Registry {
  const merged = new Map(base);
  for (const r of extra) {
    if (merged.has(r.name)) throw new Error(`plugin "${r.name}" is registered twice`);
    merged.set(r.name, r);
  }
  return merged;
}
