import { join } from "node:path";
import { Command } from "commander";
import { SystemClock, sleep } from "../actors/system/clock.ts";
import {
  baseUrl,
  type ClusterFile,
  type ClusterNode,
  defaultRunDir,
  readClusterFile,
  writeClusterFile,
} from "./cluster-file.ts";
import { STOP_GRACE_MS, spawnNode, stopNode } from "./launcher.ts";
import { isReady } from "./node-client.ts";
import { stopLeftoverPods } from "./pod-processes.ts";
import { writeApiCredentials } from "./up.ts";

/**
 * `bosun member add|remove|move-leader`: grow and shrink the local cluster online. `add` starts
 * a new server process, which joins as a learner and is promoted once caught up; `remove` takes
 * a server out of the configuration, then stops its process and the pods it ran; `move-leader`
 * hands the Raft leadership to another voter (etcdctl's `move-leader`).
 */
const CHANGE_TIMEOUT_MS = 90_000;
const RETRY_MS = 200;
const clock = new SystemClock();

async function askMembers(cluster: ClusterFile, body: object, skip?: string): Promise<unknown> {
  const deadline = clock.nowMs() + CHANGE_TIMEOUT_MS;
  let last = "no server answered";
  while (clock.nowMs() < deadline) {
    for (const node of cluster.nodes.filter((n) => n.id !== skip)) {
      try {
        const res = await fetch(`${baseUrl(node)}/admin/members`, {
          method: "POST",
          headers: { authorization: `Bearer ${cluster.token}` },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(CHANGE_TIMEOUT_MS),
        });
        const json = (await res.json()) as { error?: string };
        if (res.ok) return json;
        last = `${node.id}: ${json.error}`;
        if (res.status !== 421) throw new Error(last); // only "not the leader" is worth a retry
      } catch (error) {
        if ((error as Error).message === last) throw error;
        last = `${node.id}: ${(error as Error).message}`;
      }
    }
    await sleep(clock, RETRY_MS);
  }
  throw new Error(`membership change failed: ${last}`);
}

function nextNode(cluster: ClusterFile, runDir: string, id?: string): ClusterNode {
  const ids = new Set(cluster.nodes.map((n) => n.id));
  let n = cluster.nodes.length + 1;
  while (ids.has(`n${n}`)) n++;
  const newId = id ?? `n${n}`;
  if (ids.has(newId)) throw new Error(`${newId} is already in the cluster`);
  const last = cluster.nodes.at(-1);
  if (last === undefined) throw new Error("the cluster has no nodes");
  const octets = last.host.split(".").map(Number);
  const used = new Set(cluster.nodes.map((x) => x.host));
  let host = "";
  for (let o = (octets[3] as number) + 1; o < 255; o++) {
    host = `${octets.slice(0, 3).join(".")}.${o}`;
    if (!used.has(host)) break;
  }
  return {
    id: newId,
    host,
    port: last.port,
    // an API server like the others, with its own certificate (see `add`)
    ...(last.apiPort !== undefined ? { apiPort: last.apiPort } : {}),
    pid: null,
    logFile: join(runDir, "logs", `${newId}.log`),
    dataDir: join(runDir, "data", newId),
  };
}

export function memberCommand(): Command {
  const member = new Command("member").description("grow or shrink the cluster online (3 → 5 → 3)");
  member.addCommand(
    new Command("add")
      .description("start a new server and add it (learner first, voter once caught up)")
      .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
      .option("--id <id>", "the new server's id (default: the next nN)")
      .action(async (o: { runDir: string; id?: string }) => {
        const cluster = readClusterFile(o.runDir);
        cluster.bootstrap ??= cluster.nodes.map((n) => n.id);
        const node = nextNode(cluster, o.runDir, o.id);
        const existing = [...cluster.nodes];
        cluster.nodes.push(node);
        if (node.apiPort !== undefined)
          writeApiCredentials(o.runDir, cluster, clock.wallMs(), [node]);
        node.pid = spawnNode(cluster, node, o.runDir, true).pid ?? null;
        writeClusterFile(o.runDir, cluster);
        console.log(
          `started ${node.id} (pid ${node.pid}) on ${node.host}:${node.port}; adding it…`,
        );
        await askMembers(
          { ...cluster, nodes: existing },
          { op: "add", id: node.id, address: `${node.host}:${node.port}` },
        );
        const deadline = clock.nowMs() + CHANGE_TIMEOUT_MS;
        while (!(await isReady(node)).ready) {
          if (clock.nowMs() > deadline) throw new Error(`${node.id} joined but is not ready`);
          await sleep(clock, RETRY_MS);
        }
        console.log(`${node.id} is a voter`);
      }),
  );
  member.addCommand(
    new Command("remove")
      .argument("<id>", "the server to remove")
      .description("remove a server from the configuration, then stop it")
      .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
      .action(async (id: string, o: { runDir: string }) => {
        const cluster = readClusterFile(o.runDir);
        const node = cluster.nodes.find((n) => n.id === id);
        if (node === undefined) throw new Error(`no node ${id}`);
        cluster.bootstrap ??= cluster.nodes.map((n) => n.id);
        await askMembers(cluster, { op: "remove", id });
        if (node.pid !== null) await stopNode(clock, node.pid);
        // its kubelet stops its pods on the way out, within a bounded wind-down: what it left
        // (or all of them, had the node been killed before) would have no kubelet any more
        await stopLeftoverPods(
          clock,
          [{ nodeId: id, dataDir: node.dataDir }],
          STOP_GRACE_MS,
          console.log,
        );
        cluster.nodes = cluster.nodes.filter((n) => n.id !== id);
        writeClusterFile(o.runDir, cluster);
        // the kubeconfig loses the removed server's context
        if (node.apiPort !== undefined) writeApiCredentials(o.runDir, cluster, clock.wallMs(), []);
        console.log(`${id} removed and stopped`);
      }),
  );
  member.addCommand(
    new Command("move-leader")
      .argument("<id>", "the voter to lead")
      .description("transfer the Raft leadership to another server (etcdctl move-leader)")
      .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
      .action(async (id: string, o: { runDir: string }) => {
        const cluster = readClusterFile(o.runDir);
        if (!cluster.nodes.some((n) => n.id === id)) throw new Error(`no node ${id}`);
        await askMembers(cluster, { op: "move-leader", id });
        console.log(`${id} leads`);
      }),
  );
  return member;
}
