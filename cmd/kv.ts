import { Command } from "commander";
import { baseUrl, type ClusterFile, defaultRunDir, readClusterFile } from "./cluster-file.ts";
import { NODE_REQUEST_TIMEOUT_MS } from "./node-client.ts";

/** `bosun kv`: the replicated store for humans, through any server's HTTP port. */
interface KvOptions {
  runDir: string;
  node?: string;
  prefix: boolean;
}

async function call(
  cluster: ClusterFile,
  options: KvOptions,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const nodes = options.node ? cluster.nodes.filter((n) => n.id === options.node) : cluster.nodes;
  let last = "no nodes";
  for (const node of nodes) {
    try {
      const res = await fetch(`${baseUrl(node)}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${cluster.token}` },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(NODE_REQUEST_TIMEOUT_MS * 5),
      });
      const json = (await res.json()) as { error?: string };
      if (res.ok) return json;
      last = `${node.id}: ${json.error ?? res.status}`;
      if (res.status < 500) break; // the request itself is wrong; another node will say the same
    } catch (error) {
      last = `${node.id}: ${(error as Error).message}`;
    }
  }
  throw new Error(last);
}

const common = (cmd: Command) =>
  cmd
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--node <id>", "ask this node (default: the first that answers)")
    .option("--prefix", "treat KEY as a prefix", false);

export function kvCommand(): Command {
  const kv = new Command("kv").description("read and write the replicated store");
  kv.addCommand(
    common(
      new Command("get").argument("<key>").description("linearizable read (--prefix for a range)"),
    )
      .option("--serializable", "read this node's local state (may be stale)", false)
      .action(async (key: string, o: KvOptions & { serializable: boolean }) => {
        const q = new URLSearchParams({
          key,
          prefix: o.prefix ? "1" : "0",
          serializable: o.serializable ? "1" : "0",
        });
        const r = (await call(readClusterFile(o.runDir), o, `/kv/range?${q}`)) as {
          kvs: { key: string; value: string }[];
        };
        for (const kv of r.kvs) console.log(o.prefix ? `${kv.key}\t${kv.value}` : kv.value);
        if (r.kvs.length === 0) process.exitCode = 4;
      }),
  );
  kv.addCommand(
    common(
      new Command("put").argument("<key>").argument("<value>").description("write a key"),
    ).action(async (key: string, value: string, o: KvOptions) => {
      const r = (await call(readClusterFile(o.runDir), o, "/kv/put", { key, value })) as {
        revision: number;
      };
      console.log(`OK revision ${r.revision}`);
    }),
  );
  kv.addCommand(
    common(
      new Command("del")
        .argument("<key>")
        .description("delete a key (--prefix: every key under it)"),
    ).action(async (key: string, o: KvOptions) => {
      const r = (await call(readClusterFile(o.runDir), o, "/kv/delete", {
        key,
        prefix: o.prefix,
      })) as {
        deleted: number;
      };
      console.log(r.deleted);
    }),
  );
  kv.addCommand(
    common(new Command("watch").argument("<key>").description("stream changes until Ctrl-C"))
      .option("--rev <n>", "start at this revision (replays history)", "0")
      .action(async (key: string, o: KvOptions & { rev: string }) => {
        const cluster = readClusterFile(o.runDir);
        const node = o.node ? cluster.nodes.find((n) => n.id === o.node) : cluster.nodes[0];
        if (!node) throw new Error(`no node ${o.node}`);
        const q = new URLSearchParams({ key, prefix: o.prefix ? "1" : "0", startRevision: o.rev });
        const res = await fetch(`${baseUrl(node)}/kv/watch?${q}`, {
          headers: { authorization: `Bearer ${cluster.token}` },
        });
        if (!res.ok || !res.body)
          throw new Error(`watch failed: HTTP ${res.status} ${await res.text()}`);
        const decoder = new TextDecoder();
        for await (const chunk of res.body)
          process.stdout.write(decoder.decode(chunk as Uint8Array));
      }),
  );
  return kv;
}
