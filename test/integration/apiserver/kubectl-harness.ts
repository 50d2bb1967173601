import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { LocalCluster } from "../../support/local-cluster.ts";

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
