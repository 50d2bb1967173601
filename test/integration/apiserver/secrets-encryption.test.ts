/**
 * Secrets encrypted at rest on a real cluster (issue 18, item 5): `bosun up` writes an
 * EncryptionConfiguration with a random aesgcm key; a Secret's value is then nowhere in any
 * member's RocksDB files (WAL and tables: the Raft log and the store), while a ConfigMap's is
 * (the control: the grep sees plaintext when there is some); kubectl reads it back; after
 * `bosun secrets rotate-key` (new key, rewrite, old key removed) it still reads, also from a
 * server restarted since, whose watch cache decodes everything from the store again.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { secretsKeysOf } from "../../../actors/apiserver/encryption-config.ts";
import { encryptionConfigFile } from "../../../cmd/launcher.ts";
import type { LocalCluster } from "../../support/local-cluster.ts";
import { runBosun } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";
import { clusterForTests, kubectlOk } from "./kubectl-harness.ts";

/** Every file under a member's data dir, read whole (RocksDB's WAL, tables, manifests). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...filesUnder(path));
    else if (stat.isFile()) out.push(path);
  }
  return out;
}

/** How many of the cluster's members hold `needle` in some file of their data dir. */
function membersHolding(cluster: LocalCluster, needle: string): string[] {
  const bytes = Buffer.from(needle, "utf8");
  return cluster.cluster.nodes
    .filter((n) => filesUnder(n.dataDir).some((f) => readFileSync(f).includes(bytes)))
    .map((n) => n.id);
}

async function appliedEverywhere(cluster: LocalCluster, revision: number): Promise<void> {
  await waitFor(`every member to apply revision ${revision}`, async () => {
    const views = await Promise.all(cluster.cluster.nodes.map((n) => cluster.raft(n.id)));
    return views.every((v) => v.revision >= revision);
  });
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

describe("Secrets encrypted at rest", () => {
  const cluster = clusterForTests(3);

  it("no member stores a Secret's value in plaintext; rotation rewrites it and the old key can go", async () => {
    const c = cluster();
    const value = `bosun-secret-${randomBytes(12).toString("hex")}`;
    const control = `bosun-config-${randomBytes(12).toString("hex")}`;
    const [keyBefore] = secretsKeysOf(readFileSync(encryptionConfigFile(c.runDir), "utf8"));
    expect(keyBefore?.name).toMatch(/^key-/);

    await kubectlOk(c, [
      "create",
      "secret",
      "generic",
      "vault",
      `--from-literal=password=${value}`,
    ]);
    await kubectlOk(c, ["create", "configmap", "control", `--from-literal=note=${control}`]);
    const rv = Number(
      await kubectlOk(c, [
        "get",
        "configmap",
        "control",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
      ]),
    );
    await appliedEverywhere(c, rv);

    const all = c.cluster.nodes.map((n) => n.id);
    expect(membersHolding(c, control)).toEqual(all); // plaintext is visible to this grep
    expect(membersHolding(c, `k8s:enc:aesgcm:v1:${keyBefore?.name}:`)).toEqual(all);
    expect(membersHolding(c, value)).toEqual([]);
    expect(membersHolding(c, b64(value))).toEqual([]);

    const read = await kubectlOk(c, ["get", "secret", "vault", "-o", "jsonpath={.data.password}"]);
    expect(Buffer.from(read, "base64").toString("utf8")).toBe(value);

    const rotated = await runBosun(["secrets", "rotate-key"], { BOSUN_RUN_DIR: c.runDir });
    expect(rotated.stderr).toBe("");
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/rewrote [1-9]\d* secrets/);
    const keysAfter = secretsKeysOf(readFileSync(encryptionConfigFile(c.runDir), "utf8"));
    expect(keysAfter.map((k) => k.name)).toHaveLength(1);
    const keyAfter = keysAfter[0]?.name as string;
    expect(keyAfter).not.toBe(keyBefore?.name);

    const rewrittenAt = Number(
      await kubectlOk(c, ["get", "secret", "vault", "-o", "jsonpath={.metadata.resourceVersion}"]),
    );
    await appliedEverywhere(c, rewrittenAt);
    expect(membersHolding(c, `k8s:enc:aesgcm:v1:${keyAfter}:`)).toEqual(all);
    expect(membersHolding(c, value)).toEqual([]);
    expect(membersHolding(c, b64(value))).toEqual([]);

    // n2 restarts with only the new key: it decodes every Secret from the store again
    c.kill("n2", "SIGTERM");
    await c.restart("n2");
    await waitFor("n2's API server", async () => {
      const out = await kubectlOk(c, [
        "--context",
        "bosun-n2",
        "get",
        "secret",
        "vault",
        "-o",
        "jsonpath={.data.password}",
      ]).catch(() => "");
      return out !== "" ? out : undefined;
    }).then((out) => expect(Buffer.from(out, "base64").toString("utf8")).toBe(value));
  });
});
