import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseUrl, type ClusterFile, readClusterFile } from "../../../cmd/cluster-file.ts";
import { isBosunNode } from "../../../cmd/launcher.ts";
import { randomLoopbackBase } from "../../support/loopback.ts";
import { expectNoProcessesUnder, killAll, runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/** The CLI as a user runs it: `bosun up` in the background, then status, inspect, chaos, down. */
const runDir = mkdtempSync(join(tmpdir(), "bosun-cli-"));
const env = { BOSUN_RUN_DIR: runDir };
let cluster: ClusterFile;

interface StatusJson {
  nodes: {
    id: string;
    up: boolean;
    status: {
      links: Record<string, { state: string }>;
      actors: { address: string; state: unknown; status: string; restarts: number }[];
    } | null;
  }[];
}

async function statusJson(): Promise<StatusJson> {
  const { stdout } = await runBosun(["status", "--json"], env);
  return JSON.parse(stdout) as StatusJson;
}

function admin(path: string, body: unknown, token: string | null) {
  const node = cluster.nodes[0]!;
  return fetch(`${baseUrl(node)}${path}`, {
    method: "POST",
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: JSON.stringify(body),
  });
}

function meshState(status: StatusJson, nodeId: string): unknown {
  const node = status.nodes.find((n) => n.id === nodeId);
  const monitor = node?.status?.actors.find((a) => a.address === `${nodeId}/peer-monitor`);
  return (monitor?.state as { mesh?: string } | undefined)?.mesh;
}

beforeAll(async () => {
  const up = await runBosun(
    ["up", "--base-ip", randomLoopbackBase(3), "--faults", "--timeout-ms", "60000"],
    env,
  );
  if (up.code !== 0) throw new Error(`bosun up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
  cluster = readClusterFile(runDir);
});

afterAll(async () => {
  try {
    await runBosun(["down", "--purge"], env);
    await expectNoProcessesUnder(runDir); // down left nothing of the cluster running
  } finally {
    // whatever down could not stop, this does
    await killAll(cluster?.nodes.map((n) => n.pid) ?? []);
    rmSync(runDir, { recursive: true, force: true });
  }
});

describe("bosun up / status / inspect / down", () => {
  it("status shows every node up, every link connected, every actor with its state", async () => {
    const status = await statusJson();
    expect(status.nodes.map((n) => n.id)).toEqual(["n1", "n2", "n3"]);
    for (const node of status.nodes) {
      expect(node.up).toBe(true);
      const links = Object.values(node.status?.links ?? {}).map((l) => l.state);
      expect(links).toEqual(["connected", "connected"]);
      const actors = node.status?.actors.map((a) => a.address) ?? [];
      expect(actors).toEqual(
        expect.arrayContaining([`${node.id}/node`, `${node.id}/echo`, `${node.id}/peer-monitor`]),
      );
    }
    const text = await runBosun(["status", "--actors"], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("3/3 nodes up");
    expect(text.stdout).toMatch(
      /n2\/peer-monitor\s+peer-monitor\s+\{pinger: pinging, mesh: meshed\}/,
    );
  });

  it("inspect draws the statechart with the active state marked, also through another node", async () => {
    const local = await runBosun(["inspect", "n1/peer-monitor"], env);
    expect(local.stdout).toContain("● meshed");
    expect(local.stdout).toContain("○ alone");
    const viaOther = await runBosun(["inspect", "n1/link:n2", "--via", "n3"], env);
    expect(viaOther.stdout).toContain("● connected");
    const mermaid = await runBosun(["inspect", "n2/echo", "--format", "mermaid"], env);
    expect(mermaid.stdout).toContain("stateDiagram-v2");
    const missing = await runBosun(["inspect", "n2/nobody"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no actor n2/nobody");
  });

  it("a crashing actor is restarted by its supervisor and shown as restarted", async () => {
    expect((await admin("/admin/crash?actor=n1/peer-monitor", null, null)).status).toBe(401);
    const res = await admin("/admin/crash?actor=n1/peer-monitor", null, cluster.token);
    expect(res.status).toBe(200);
    await waitFor("n1/peer-monitor restarted", async () => {
      const status = await statusJson();
      const actor = status.nodes[0]?.status?.actors.find((a) => a.address === "n1/peer-monitor");
      return actor && actor.restarts >= 1 && actor.status === "active";
    });
    const text = await runBosun(["status", "--actors"], env);
    expect(text.stdout).toMatch(/n1\/peer-monitor .* 1 \(last: crashed on purpose/);
  });

  it("a partition rule cuts n1 from n2 while n3 stays meshed; healing restores it", async () => {
    const bad = await admin(
      "/admin/faults",
      [{ type: "partition", peer: "n2", direction: "sideways" }],
      cluster.token,
    );
    expect(bad.status).toBe(400);
    const res = await admin("/admin/faults", [{ type: "partition", peer: "n2" }], cluster.token);
    expect(res.status).toBe(200);
    await waitFor("n1 and n2 to lose each other", async () => {
      const status = await statusJson();
      return meshState(status, "n1") === "partial" && meshState(status, "n2") === "partial";
    });
    expect(meshState(await statusJson(), "n3")).toBe("meshed");
    expect((await admin("/admin/faults", [], cluster.token)).status).toBe(200);
    await waitFor("everyone meshed again", async () => {
      const status = await statusJson();
      return ["n1", "n2", "n3"].every((id) => meshState(status, id) === "meshed");
    });
  });

  it("a slow disk (fsync failpoint) on n1 is set and healed through /admin/disk-faults; writes still commit", async () => {
    expect((await admin("/admin/disk-faults", { syncDelayMs: 200 }, null)).status).toBe(401);
    expect((await admin("/admin/disk-faults", { syncDelayMs: -1 }, cluster.token)).status).toBe(
      400,
    );
    expect((await admin("/admin/disk-faults", { syncDelayMs: 200 }, cluster.token)).status).toBe(
      200,
    );
    const put = await runBosun(["kv", "put", "slow-disk", "yes"], env);
    expect(put.code, put.stderr).toBe(0);
    expect((await admin("/admin/disk-faults", { syncDelayMs: 0 }, cluster.token)).status).toBe(200);
    expect((await runBosun(["kv", "get", "slow-disk"], env)).stdout).toContain("yes");
  });

  it("n1's clock is skewed and healed through /admin/clock-skew; the cluster still answers", async () => {
    expect((await admin("/admin/clock-skew", { rate: 0.5 }, null)).status).toBe(401);
    expect((await admin("/admin/clock-skew", { rate: 0 }, cluster.token)).status).toBe(400);
    // an hour's wall-clock step as well: writes stamped an hour ahead once expired every other
    // client's session (sessions now go by the leader's monotonic time: session-expiry.ts)
    const skew = { rate: 0.9, wallOffsetMs: 3_600_000 };
    expect((await admin("/admin/clock-skew", skew, cluster.token)).status).toBe(200);
    const put = await runBosun(["kv", "put", "skewed", "yes"], env);
    expect(put.code, put.stderr).toBe(0);
    expect((await admin("/admin/clock-skew", {}, cluster.token)).status).toBe(200);
    expect(readFileSync(cluster.nodes[0]!.logFile, "utf8")).toContain('"msg":"clock skew set"');
  });

  it("down stops every node; status then reports them down", async () => {
    const pids = cluster.nodes.map((n) => n.pid);
    const down = await runBosun(["down"], env);
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/n1: stopped/);
    expect(pids.every((pid) => pid !== null && !isBosunNode(pid))).toBe(true);
    const status = await runBosun(["status"], env);
    expect(status.code).toBe(3);
    expect(status.stdout).toContain("0/3 nodes up");
    // graceful stop is logged as JSON by each node
    const log = readFileSync(cluster.nodes[0]!.logFile, "utf8");
    expect(log).toContain('"msg":"node stopped"');
  });
});
