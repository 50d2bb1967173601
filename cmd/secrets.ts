/**
 * `bosun secrets rewrite` and `bosun secrets rotate-key`: Kubernetes' key rotation for
 * encryption at rest, as its documentation walks it, in one command:
 *
 *   1. the new key is added as a second key, every server reloads (it reads with it);
 *   2. the new key moves first, every server reloads (it writes with it);
 *   3. every Secret is rewritten (`kubectl get secrets -A -o json | kubectl replace -f -`);
 *   4. the old keys are removed, every server reloads (unless --keep-old).
 *
 * A server "has reloaded" when its acknowledgement file holds the hash of the file written
 * (cmd/node/encryption-at-rest.ts), so no step runs before every running server is ready for it.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { pino } from "pino";
import type { JsonObject } from "../actors/api/json.ts";
import {
  newEncryptionKey,
  renderSecretsEncryptionConfiguration,
  secretsKeysOf,
} from "../actors/apiserver/encryption-config.ts";
import type { ApiClient } from "../actors/client/api-client.ts";
import { isConflict, isNotFound } from "../actors/client/errors.ts";
import { type Clock, SystemClock, sleep } from "../actors/system/clock.ts";
import { ClientNode } from "./client-node.ts";
import { type ClusterFile, defaultRunDir, readClusterFile } from "./cluster-file.ts";
import { encryptionConfigFile, isBosunNode } from "./launcher.ts";
import { configHash, encryptionAckFile } from "./node/encryption-at-rest.ts";

const PAGE_SIZE = 500;
/** A Secret changed under the rewrite is read again and retried this often. */
const MAX_CONFLICT_RETRIES = 5;
const RELOAD_TIMEOUT_MS = 30_000;
const RELOAD_POLL_MS = 50;

/** Rewrites every Secret through the API, so each is stored with the first key. Returns how many. */
export async function rewriteSecrets(api: ApiClient): Promise<number> {
  let count = 0;
  let cont: string | undefined;
  do {
    const page = await api.list({
      resource: "secrets",
      limit: PAGE_SIZE,
      ...(cont ? { continue: cont } : {}),
    });
    for (const item of page.items) if (await rewriteOne(api, item)) count++;
    cont = page.metadata.continue || undefined;
  } while (cont !== undefined);
  return count;
}

async function rewriteOne(api: ApiClient, listed: JsonObject): Promise<boolean> {
  let object = listed;
  for (let attempt = 0; ; attempt++) {
    const meta = object.metadata as { name: string; namespace: string };
    try {
      await api.update(
        "secrets",
        { ...object, apiVersion: "v1", kind: "Secret" },
        {
          namespace: meta.namespace,
        },
      );
      return true;
    } catch (error) {
      if (isNotFound(error)) return false; // deleted meanwhile: nothing to rewrite
      if (!isConflict(error) || attempt >= MAX_CONFLICT_RETRIES) throw error;
      object = await api.get("secrets", meta.name, { namespace: meta.namespace });
    }
  }
}

/** Writes the configuration with `keys`, signals every running server, waits for each to load it. */
async function applyKeys(
  clock: Clock,
  runDir: string,
  cluster: ClusterFile,
  keys: readonly { name: string; secret: string }[],
): Promise<void> {
  const file = encryptionConfigFile(runDir);
  const text = renderSecretsEncryptionConfiguration(keys);
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  const hash = configHash(text);
  const running = cluster.nodes.filter((n) => n.pid !== null && isBosunNode(n.pid));
  for (const node of running) process.kill(node.pid as number, "SIGHUP");
  const deadline = clock.nowMs() + RELOAD_TIMEOUT_MS;
  for (const node of running) {
    for (;;) {
      let acked = "";
      try {
        acked = readFileSync(encryptionAckFile(node.dataDir), "utf8").trim();
      } catch {
        // not written yet
      }
      if (acked === hash) break;
      if (clock.nowMs() > deadline)
        throw new Error(`${node.id} did not load the new encryption configuration in time`);
      await sleep(clock, RELOAD_POLL_MS);
    }
  }
}

async function withApi<T>(runDir: string, fn: (api: ApiClient) => Promise<T>): Promise<T> {
  const clock = new SystemClock();
  const { client } = await ClientNode.joinRunDir(runDir, clock, pino({ level: "warn" }));
  try {
    return await fn(client.apiClient());
  } finally {
    await client.close();
  }
}

export function secretsCommand(): Command {
  const command = new Command("secrets").description(
    "Secrets encrypted at rest: rewrite them, rotate the encryption key",
  );
  command
    .command("rewrite")
    .description("rewrite every Secret so it is stored with the first key of the configuration")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .action(async (o: { runDir: string }) => {
      const count = await withApi(o.runDir, rewriteSecrets);
      console.log(`rewrote ${count} secrets`);
      process.exit(0);
    });
  command
    .command("rotate-key")
    .description(
      "add a new key, make it the writing key, rewrite every Secret, remove the old keys",
    )
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--keep-old", "keep the old keys (values they encrypted stay readable)", false)
    .action(async (o: { runDir: string; keepOld: boolean }) => {
      const clock = new SystemClock();
      const cluster = readClusterFile(o.runDir);
      const old = secretsKeysOf(readFileSync(encryptionConfigFile(o.runDir), "utf8"));
      const fresh = newEncryptionKey(`key-${clock.wallMs()}`);
      await applyKeys(clock, o.runDir, cluster, [...old, fresh]);
      console.log(`${fresh.name}: every server reads with it`);
      await applyKeys(clock, o.runDir, cluster, [fresh, ...old]);
      console.log(`${fresh.name}: every server writes with it`);
      const count = await withApi(o.runDir, rewriteSecrets);
      console.log(`rewrote ${count} secrets`);
      if (!o.keepOld) {
        await applyKeys(clock, o.runDir, cluster, [fresh]);
        console.log(`removed ${old.map((k) => k.name).join(", ") || "no old keys"}`);
      }
      process.exit(0);
    });
  return command;
}
