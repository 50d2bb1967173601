import { afterAll, beforeAll, expect, it } from "vitest";
import { readClusterFile } from "../../../cmd/cluster-file.ts";
import type { RangeResponse } from "../../../raft/mvcc/responses.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";

/** Grow 3 → 5 and shrink back to 3 (removing the leader among others) while clients write. */
const enc = (s: string) => Buffer.from(s);
let local: LocalCluster;

beforeAll(async () => {
  local = await LocalCluster.start(3);
  await local.connectClient();
});

afterAll(async () => {
  // members added during the test are in the cluster file: reload it so stop() kills them too
  local.cluster = readClusterFile(local.runDir);
  await local?.stop();
});

async function member(...args: string[]): Promise<void> {
  const r = await runBosun(["member", ...args], { BOSUN_RUN_DIR: local.runDir });
  if (r.code !== 0)
    throw new Error(`bosun member ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
}

it("membership 3 → 5 → 3 under load loses no acknowledged write", async () => {
  const acked: string[] = [];
  let stop = false;
  const writers = [0, 1, 2].map(async (w) => {
    const client = local.client!.storeClient();
    for (let i = 0; !stop; i++) {
      const r = await client.put(enc(`m/${w}/${i}`), enc("x"));
      if (r.kind !== "put") throw new Error(`put m/${w}/${i} answered ${JSON.stringify(r)}`);
      acked.push(`m/${w}/${i}`);
    }
  });
  try {
    await waitFor("some writes", () => acked.length > 20);
    await member("add");
    await member("add");
    local.cluster = readClusterFile(local.runDir);
    expect(local.cluster.nodes.map((n) => n.id)).toEqual(["n1", "n2", "n3", "n4", "n5"]);
    // an added server is an API server too: its certificate verifies and its context works
    const contexts = await kubectlOk(local, ["config", "get-contexts", "-o", "name"]);
    expect(contexts).toContain(`${local.cluster.name}-n5`);
    const ns = await kubectlOk(local, [
      "--context",
      `${local.cluster.name}-n5`,
      "get",
      "namespace",
      "default",
      "-o",
      "name",
    ]);
    expect(ns.trim()).toBe("namespace/default");
    const leader = await local.leader();
    const five = await local.raft(leader);
    expect((five as unknown as { voters: string[] }).voters).toEqual([
      "n1",
      "n2",
      "n3",
      "n4",
      "n5",
    ]);
    const mark = acked.length;
    await waitFor("writes on five members", () => acked.length > mark + 20);
    await member("remove", leader); // the leader hands over first, then leaves
    const second = ["n1", "n2", "n3", "n4", "n5"].filter((id) => id !== leader)[0]!;
    await member("remove", second);
    local.cluster = readClusterFile(local.runDir);
    expect(local.cluster.nodes).toHaveLength(3);
    const left = await kubectlOk(local, ["config", "get-contexts", "-o", "name"]);
    expect(left.trim().split("\n")).toHaveLength(3); // the removed servers' contexts are gone
    const mark2 = acked.length;
    await waitFor("writes on three members", () => acked.length > mark2 + 20);
  } finally {
    stop = true;
    await Promise.all(writers);
  }
  const survivor = local.cluster.nodes[0]!.id;
  const leader = await local.leader();
  const commit = (await local.raft(leader)).commit;
  await waitFor(
    "the survivor to apply everything",
    async () => (await local.raft(survivor)).applied >= commit,
  );
  // One range per writer: a single range stops at the store's 10,000-result limit (`more`).
  const kvs: RangeResponse["kvs"] = [];
  for (const w of [0, 1, 2]) {
    const part = await local.client!.system.ask<RangeResponse>(
      local.client!.system.address("t"),
      `${survivor}/store`,
      "kv.range",
      { request: { key: enc(`m/${w}/`), rangeEnd: enc(`m/${w}0`) }, serializable: true },
    );
    expect(part.more).toBe(false);
    kvs.push(...part.kvs);
  }
  const keys = new Set(kvs.map((kv) => kv.key.toString()));
  expect(acked.filter((k) => !keys.has(k))).toEqual([]);
  expect(kvs.every((kv) => kv.version === 1)).toBe(true); // none applied twice
});
