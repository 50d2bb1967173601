import { Command } from "commander";
import { SystemClock, sleep } from "../actors/system/clock.ts";
import type { InspectionPage, InspectionRecord } from "../actors/system/inspection-ring.ts";
import {
  type ChartNode,
  formatStateValue,
  renderMermaid,
  renderTree,
} from "../actors/system/machine-chart.ts";
import { defaultRunDir, nodeFor, readClusterFile } from "./cluster-file.ts";
import { getJson } from "./node-client.ts";
import { collectStatus } from "./status.ts";

interface InspectOptions {
  runDir: string;
  format: "tree" | "json" | "mermaid";
  follow: boolean;
  via?: string;
}

const FOLLOW_POLL_MS = 250;

export function formatRecord(r: InspectionRecord): string {
  const time = new Date(r.atMs).toISOString().slice(11, 23);
  const term = r.term === null ? "" : ` term=${r.term}`;
  const event = r.eventType ? ` ${r.eventType}` : "";
  const from = r.from ? ` from ${r.from}` : "";
  const state = r.state !== undefined ? ` → ${formatStateValue(r.state)}` : "";
  return `#${r.seq} ${time} ${r.address}${term} ${r.kind}${event}${from}${state}`;
}

async function listActors(runDir: string): Promise<void> {
  const cluster = readClusterFile(runDir);
  for (const report of await collectStatus(cluster)) {
    if (!report.status) {
      console.log(`${report.node.id}: down (${report.error})`);
      continue;
    }
    for (const a of report.status.actors) {
      console.log(`${a.address.padEnd(28)} ${formatStateValue(a.state)}`);
    }
  }
}

export function inspectCommand(): Command {
  return new Command("inspect")
    .description("show an actor's statechart with its active states (no actor: list all actors)")
    .argument("[actor]", "actor address, e.g. n1/peer-monitor")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--format <format>", "tree | json | mermaid", "tree")
    .option("--follow", "after the chart, stream the actor's live events", false)
    .option("--via <node>", "ask through this node instead of the actor's own")
    .action(async (actor: string | undefined, options: InspectOptions) => {
      if (actor === undefined) return listActors(options.runDir);
      if (!actor.includes("/")) throw new Error(`actor address is node/actor, got '${actor}'`);
      const cluster = readClusterFile(options.runDir);
      const via = nodeFor(cluster, options.via ? `${options.via}/x` : actor);
      const q = encodeURIComponent(actor);
      const answer = await getJson<{ chart: ChartNode; state: unknown }>(
        via,
        `/inspect/chart?actor=${q}`,
      );
      if (options.format === "json") console.log(JSON.stringify(answer, null, 2));
      else if (options.format === "mermaid") console.log(renderMermaid(answer.chart));
      else console.log(renderTree(answer.chart, answer.state));
      if (!options.follow) return;
      const clock = new SystemClock();
      let since = 0;
      for (;;) {
        const page = await getJson<InspectionPage>(
          via,
          `/inspect/events?address=${q}&since=${since}`,
        );
        if (page.truncated && since > 0) console.log("… (older events were overwritten)");
        for (const r of page.records) console.log(formatRecord(r));
        since = page.nextSeq;
        await sleep(clock, FOLLOW_POLL_MS);
      }
    });
}
