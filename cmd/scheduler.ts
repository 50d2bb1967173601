import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { pino } from "pino";
import type { AnyActorRef } from "xstate";
import { componentUser, KUBE_SCHEDULER_USER } from "../actors/api/user-info.ts";
import { ApiClient } from "../actors/client/api-client.ts";
import { leaderElectionMachine } from "../actors/client/leader-election.ts";
import {
  defaultSchedulerConfiguration,
  parseSchedulerConfiguration,
  type SchedulerConfiguration,
} from "../actors/scheduler/config.ts";
import { IN_TREE_REGISTRY } from "../actors/scheduler/in-tree-plugins.ts";
import {
  mergeRegistries,
  type PluginRegistration,
  type Registry,
} from "../actors/scheduler/registry.ts";
import { type SchedulerHandle, startScheduler } from "../actors/scheduler/scheduler.ts";
import { SystemClock, sleep } from "../actors/system/clock.ts";
import { ClientNode } from "./client-node.ts";
import { defaultRunDir } from "./cluster-file.ts";
import { LEASE_REQUEST_ATTEMPTS, leaseRequestTimeoutMs } from "./node/workloads-role.ts";
import { runningBundle } from "./node-runtime.ts";

/**
 * `bosun scheduler --config FILE [--plugin MODULE ...]`: a scheduler process of its own, beside
 * the cluster's default one (kube-scheduler run a second time with its own `--config`). It joins
 * the cluster of `--run-dir` as a client member (like `bosun hollow-nodes`), reads a
 * KubeSchedulerConfiguration (actors/scheduler/config.ts), registers the out-of-tree plugins of
 * each `--plugin` module (its `plugins` export: PluginRegistration[]) and schedules the pods
 * naming one of its profiles, while it holds its Lease (`leaderElection.resourceName`, by default
 * its first profile's name: run it twice and the second stands by). Prints a JSON line when it
 * starts and stops leading; SIGTERM/SIGINT release the Lease and exit.
 */
interface SchedulerCommandOptions {
  runDir: string;
  config?: string;
  plugin: string[];
  identity?: string;
  logLevel: string;
}

/** How long a stopping scheduler gives its election to release the Lease. */
const STOP_MS = 2_000;
const RELEASE_POLL_MS = 20;

/** The registrations a plugin module exports as `plugins`; a clear error when it has none. */
async function pluginsOf(file: string): Promise<PluginRegistration[]> {
  // the bundle carries no transpiler: a TypeScript plugin brings tsx in, for this process only
  if (runningBundle() && /\.[cm]?ts$/.test(file)) (await import("tsx/esm/api")).register();
  const module = (await import(pathToFileURL(resolve(file)).href)) as { plugins?: unknown };
  if (!Array.isArray(module.plugins))
    throw new Error(`--plugin ${file}: the module exports no \`plugins\` array`);
  return module.plugins as PluginRegistration[];
}

export async function loadSchedulerSetup(
  configFile: string | undefined,
  pluginFiles: readonly string[],
): Promise<{ config: SchedulerConfiguration; registry: Registry }> {
  let registry: Registry = IN_TREE_REGISTRY;
  for (const file of pluginFiles) registry = mergeRegistries(registry, await pluginsOf(file));
  if (configFile === undefined) return { config: defaultSchedulerConfiguration(), registry };
  const text = readFileSync(configFile, "utf8");
  return { config: parseSchedulerConfiguration(text, registry, configFile), registry };
}

export function schedulerCommand(): Command {
  return new Command("scheduler")
    .description("run a scheduler (a KubeSchedulerConfiguration's profiles) against a cluster")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--config <file>", "KubeSchedulerConfiguration (YAML); default: one default profile")
    .option(
      "--plugin <module>",
      "a module whose `plugins` export registers out-of-tree plugins (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--identity <id>", "this instance's Lease holder identity (default: its member id)")
    .option("--log-level <level>", "pino log level", "info")
    .action(async (o: SchedulerCommandOptions) => {
      // configuration errors before anything connects: the process exits naming the field
      const { config, registry } = await loadSchedulerSetup(o.config, o.plugin);
      const clock = new SystemClock();
      const logger = pino({ level: o.logLevel, base: { scheduler: true, pid: process.pid } });
      const { client, apiServers } = await ClientNode.joinRunDir(o.runDir, clock, logger);
      const system = client.system;
      const servers = () => apiServers;
      const user = componentUser(KUBE_SCHEDULER_USER);
      const api = new ApiClient({ system, servers, user });
      const identity = o.identity ?? system.nodeId;
      const { leaderElect, resourceName, resourceNamespace } = config.leaderElection;
      let scheduler: SchedulerHandle | null = null;
      const startLeading = () => {
        scheduler = startScheduler({ system, api, clock, logger, config, registry });
        console.log(
          JSON.stringify({
            leading: true,
            lease: resourceName,
            profiles: scheduler.schedulerNames,
          }),
        );
      };
      const stopLeading = () => {
        scheduler?.stop();
        scheduler = null;
        console.log(JSON.stringify({ leading: false, lease: resourceName }));
      };
      let election: AnyActorRef | null = null;
      if (leaderElect) {
        election = system.spawn(`${resourceName}-election`, leaderElectionMachine, {
          supervise: false,
          input: {
            api: new ApiClient({
              system,
              servers,
              requestTimeoutMs: leaseRequestTimeoutMs(undefined),
              maxAttempts: LEASE_REQUEST_ATTEMPTS,
              user,
            }),
            clock,
            namespace: resourceNamespace,
            leaseName: resourceName,
            identity,
            onStartedLeading: startLeading,
            onStoppedLeading: stopLeading,
          },
        });
      } else startLeading();
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "stopping the scheduler");
        scheduler?.stop();
        election?.send({ type: "election.stop" });
        // a leader clears the Lease's holder on the way out, so a successor need not wait it out
        const deadline = clock.nowMs() + STOP_MS;
        while (election?.getSnapshot().status === "active" && clock.nowMs() < deadline)
          await sleep(clock, RELEASE_POLL_MS);
        await client.close();
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      process.once("SIGINT", () => void shutdown("SIGINT"));
    });
}
