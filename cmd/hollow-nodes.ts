import { join } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import {
  DEFAULT_LEASE_RENEW_JITTER,
  DEFAULT_MAX_REGISTRATIONS_IN_FLIGHT,
  MAX_HOLLOW_NODES,
  startHollowNodes,
} from "../actors/kubelet/hollow-nodes.ts";
import { DEFAULT_KUBELET_LIMITS } from "../actors/kubelet/limits.ts";
import { SystemClock, sleep } from "../actors/system/clock.ts";
import { ClientNode } from "./client-node.ts";
import { defaultRunDir } from "./cluster-file.ts";

/**
 * `bosun hollow-nodes --count N`: N hollow kubelets (actors/kubelet/hollow-nodes.ts) in this
 * process, joined to the cluster of `--run-dir` as a client member (the join token, every
 * server), like kubemark's hollow nodes. Prints one JSON line once every node is registered;
 * SIGTERM/SIGINT stop the kubelets and exit.
 */
interface HollowNodesCommandOptions {
  runDir: string;
  count: string;
  first: string;
  prefix: string;
  leaseRenewMs: string;
  leaseJitter: string;
  maxRegistrations: string;
  dataDir?: string;
  logLevel: string;
}

/** How long a stopping hollow-nodes process gives its kubelets. */
const STOP_MS = 5_000;

function int(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${flag} must be an integer in ${min}..${max}, got ${value}`);
  return n;
}

export function hollowNodesCommand(): Command {
  return new Command("hollow-nodes")
    .description("run N hollow kubelets (no containers behind them) against a cluster")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--count <n>", "hollow nodes to run", "100")
    .option("--first <i>", "index of the first node (split a range over processes)", "1")
    .option("--prefix <p>", "node name prefix", "hollow-")
    .option(
      "--lease-renew-ms <ms>",
      "node Lease renew interval (keep well under the node lifecycle grace period, 4 s)",
      String(DEFAULT_KUBELET_LIMITS.leaseRenewIntervalMs),
    )
    .option(
      "--lease-jitter <fraction>",
      "renew intervals spread over [ms × (1 − f), ms]",
      String(DEFAULT_LEASE_RENEW_JITTER),
    )
    .option(
      "--max-registrations <n>",
      "node registrations in flight at once",
      String(DEFAULT_MAX_REGISTRATIONS_IN_FLIGHT),
    )
    .option("--data-dir <dir>", "where the kubelets keep volumes (default <run-dir>/hollow)")
    .option("--log-level <level>", "pino log level", "warn")
    .action(async (o: HollowNodesCommandOptions) => {
      const count = int(o.count, "--count", 1, MAX_HOLLOW_NODES);
      const first = int(o.first, "--first", 0, MAX_HOLLOW_NODES - 1);
      const clock = new SystemClock();
      const logger = pino({ level: o.logLevel, base: { hollow: true, pid: process.pid } });
      // a hollow-nodes host's certificate: it speaks for every hollow kubelet, and nothing else
      const { client, apiServers: serverIds } = await ClientNode.joinRunDir(
        o.runDir,
        clock,
        logger,
        "hollow-nodes",
      );
      const hollow = startHollowNodes({
        system: client.system,
        servers: () => serverIds,
        clock,
        logger,
        count,
        firstIndex: first,
        namePrefix: o.prefix,
        rootDir: o.dataDir ?? join(o.runDir, "hollow"),
        leaseRenewIntervalMs: int(o.leaseRenewMs, "--lease-renew-ms", 1, 60_000),
        leaseRenewJitter: Number(o.leaseJitter),
        maxRegistrationsInFlight: int(o.maxRegistrations, "--max-registrations", 1, 10_000),
      });
      const startedMs = clock.nowMs();
      let stopping = false;
      const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "stopping hollow nodes");
        await Promise.race([hollow.stop(), sleep(clock, STOP_MS)]);
        await client.close();
        process.exit(0);
      };
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      process.once("SIGINT", () => void shutdown("SIGINT"));
      await hollow.allRegistered;
      console.log(
        JSON.stringify({
          registered: hollow.registered(),
          first: hollow.nodes[0]?.nodeName,
          last: hollow.nodes.at(-1)?.nodeName,
          registerMs: Math.round(clock.nowMs() - startedMs),
        }),
      );
    });
}
