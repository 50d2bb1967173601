import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { parse as parseYaml } from "yaml";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

/** Runs the real kubectl against a LocalCluster's kubeconfig (optionally another context). */
export function kubectl(
  cluster: LocalCluster,
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("kubectl", args, {
      env: { ...process.env, KUBECONFIG: join(cluster.runDir, "kubeconfig"), HOME: cluster.runDir },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(
  cluster: LocalCluster,
  args: string[],
  stdin?: string,
): Promise<string> {
  const r = await kubectl(cluster, args, stdin);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A long-running kubectl (`get -w`) whose output accumulates until it is killed. */
export function spawnKubectl(
  cluster: LocalCluster,
  args: string[],
): { child: ChildProcess; output: () => string } {
  const child = spawn("kubectl", args, {
    env: { ...process.env, KUBECONFIG: join(cluster.runDir, "kubeconfig"), HOME: cluster.runDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return { child, output: () => out };
}

/**
 * A raw HTTPS request to the first server's API server with the kubeconfig's CA and token, for
 * what kubectl cannot say (fieldValidation on a PUT, deletecollection, a watch's raw events).
 */
export async function apiRequest(
  cluster: LocalCluster,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ code: number; headers: IncomingHttpHeaders; text: string }> {
  const config = parseYaml(readFileSync(join(cluster.runDir, "kubeconfig"), "utf8"));
  const server = config.clusters[0].cluster;
  const token = config.users[0].user.token as string;
  const url = new URL(path, server.server);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca: Buffer.from(server["certificate-authority-data"], "base64"),
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body !== undefined ? { "content-type": contentType } : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => {
          text += d.toString();
        });
        res.on("end", () => resolve({ code: res.statusCode ?? 0, headers: res.headers, text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * A LocalCluster of `servers` for the enclosing describe block: started before its tests, once
 * the API server has its `default` namespace, and stopped after them, even on failure.
 */
export function clusterForTests(servers: number): () => LocalCluster {
  let cluster: LocalCluster | undefined;
  beforeAll(async () => {
    const started = await LocalCluster.start(servers);
    cluster = started;
    await waitFor(
      "the default namespace",
      async () => (await kubectl(started, ["get", "namespace", "default"])).code === 0,
    );
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (cluster === undefined) throw new Error("the cluster has not started");
    return cluster;
  };
}
