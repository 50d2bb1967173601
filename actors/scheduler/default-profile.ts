/**
 * The default profile: `default-scheduler` with the default plugins (default-plugins.ts), as
 * kube-scheduler runs with no configuration file.
 */
import { defaultSchedulerConfiguration } from "./config.ts";
import type { FrameworkHandle, Profile } from "./framework.ts";
import { IN_TREE_REGISTRY } from "./in-tree-plugins.ts";
import { buildProfile } from "./profile.ts";
import { SchedulerCache } from "./scheduler-cache.ts";
import { WaitingPods } from "./waiting-pods.ts";

/** The default profile wired to `handle` (its cache, waiting pods and binding port). */
export function defaultProfile(handle: FrameworkHandle): Profile {
  const config = defaultSchedulerConfiguration().profiles[0];
  if (config === undefined) throw new Error("the default configuration has no profile");
  return buildProfile(config, IN_TREE_REGISTRY, handle);
}

/**
 * A handle with no API behind it, for running the framework's pure part (filters and scores)
 * where nothing binds: benchmarks, property tests, `schedulePod` in unit tests.
 */
export function detachedHandle(cache = new SchedulerCache()): FrameworkHandle {
  return {
    cache,
    waitingPods: new WaitingPods(),
    bindPod: () => Promise.reject(new Error("this profile has no API to bind with")),
  };
}

/** The default profile for the pure framework (see `detachedHandle`). */
export const DEFAULT_PROFILE: Profile = defaultProfile(detachedHandle());
