import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBundle } from "../../../cmd/build.ts";
import { baseUrl, type ClusterFile, readClusterFile } from "../../../cmd/cluster-file.ts";
import type { NodeStatus } from "../../../cmd/node/introspection.ts";
import { getJson } from "../../../cmd/node-client.ts";
import { SOURCE_ROOT } from "../../../cmd/node-runtime.ts";
import { randomLoopbackBase } from "../../support/loopback.ts";
import { expectNoProcessesUnder, killAll, runBosun } from "../../support/processes.ts";

/**
 * What `npm start` runs: the bundle `npm run build` writes, built here from the tree as it is
 * (into a fresh folder under dist/, so a developer's dist/bosun.js is left alone, and the
 * bundle's npm imports resolve from the repository's node_modules as dist/bosun.js's do). A cluster started from it runs its
 * nodes from the same bundle, without tsx, and finds the files its sources find beside them (the
 * inspector page's sources, the image catalog's programs).
 */
mkdirSync(join(SOURCE_ROOT, "dist"), { recursive: true });
const buildDir = mkdtempSync(join(SOURCE_ROOT, "dist", "test-"));
const bundle = join(buildDir, "bosun.js");
const runDir = mkdtempSync(join(tmpdir(), "bosun-bundle-"));
let cluster: ClusterFile | undefined;

/** `bosun ARGS` from the bundle; BOSUN_NODE_RUNTIME unset: the bundle alone decides. */
const runBundle = (args: string[]) =>
  runBosun(args, { BOSUN_RUN_DIR: runDir, BOSUN_NODE_RUNTIME: "" }, [bundle]);

beforeAll(async () => {
  await buildBundle(bundle);
  const up = await runBundle([
    "up",
    "--servers",
    "1",
    "--base-ip",
    randomLoopbackBase(1),
    "--no-workloads",
    "--timeout-ms",
    "60000",
  ]);
  if (existsSync(join(runDir, "cluster.json"))) cluster = readClusterFile(runDir);
  if (up.code !== 0) throw new Error(`bosun up failed (${up.code}):\n${up.stdout}\n${up.stderr}`);
});

afterAll(async () => {
  try {
    await runBundle(["down", "--purge"]);
    await expectNoProcessesUnder(runDir);
  } finally {
    await killAll(cluster?.nodes.map((n) => n.pid) ?? []);
    rmSync(runDir, { recursive: true, force: true });
    rmSync(buildDir, { recursive: true, force: true });
  }
});

describe("the dist bundle", () => {
  it("runs its nodes from the bundle, without tsx", async () => {
    const node = cluster?.nodes[0];
    expect(node?.pid).toBeGreaterThan(0);
    const argv = readFileSync(`/proc/${node?.pid}/cmdline`, "utf8").split("\0");
    expect(argv).toContain(bundle);
    expect(argv).not.toContain("tsx");
    const status = await getJson<NodeStatus>(node as NonNullable<typeof node>, "/status");
    expect(status.runtime).toBe("bundle");
    expect(status.memory.rssMiB).toBeGreaterThan(0);
    expect(status.memory.peakRssMiB).toBeGreaterThanOrEqual(status.memory.rssMiB);
  });

  it("status prints each node's resident memory and runtime", async () => {
    const status = await runBundle(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/RSS MiB \(PEAK\)\s+RUNTIME/);
    expect(status.stdout).toMatch(/n1\s+\S+\s+\d+\s+up\s+\d+ \(\d+\)\s+bundle/);
  });

  it("serves the inspector page, bundled from its sources beside the bundle's sources", async () => {
    const node = cluster?.nodes[0] as NonNullable<typeof cluster>["nodes"][number];
    const res = await fetch(`${baseUrl(node)}/ui/app.js`, {
      headers: { authorization: `Bearer ${cluster?.token}` },
    });
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(10_000);
  });
});
