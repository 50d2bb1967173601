/**
 * Container resource limits through cgroups v1 (the controllers this machine mounts under
 * /sys/fs/cgroup/<controller>): one cgroup per container under the kubelet's own cgroup, in
 * `<controller>/<kubelet's path>/bosun/<pod uid>/<container>`:
 *
 *   memory   memory.limit_in_bytes = limits.memory; `oom_kill` in memory.oom_control tells an
 *            OOM kill (Kubernetes' reason OOMKilled); memory.usage_in_bytes for the Summary API
 *   cpu      cpu.cfs_quota_us = limits.cpu × cpu.cfs_period_us (Kubernetes' CFS quota)
 *   cpuacct  cpuacct.usage (ns of CPU used) for the Summary API
 *
 * The container's first process joins its cgroups before it runs anything (pod-sandbox.ts);
 * the cgroups are removed when it has exited, and made anew for each start, so an OOM count
 * never carries over to the next run. Without a writable cgroup v1 hierarchy (not root, or
 * cgroup v2 only) there are no limits: `detectCgroups` answers null and the runtime goes on.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The Linux CFS period Kubernetes uses (100 ms). */
export const CFS_PERIOD_US = 100_000;
/** The smallest CFS quota the kernel takes (1 ms). */
const MIN_CFS_QUOTA_US = 1_000;

const CONTROLLERS = ["memory", "cpu", "cpuacct"] as const;
type Controller = (typeof CONTROLLERS)[number];

export interface ContainerLimits {
  memoryLimitBytes?: number;
  cpuLimitMilli?: number;
}

export interface CgroupStats {
  memoryUsageBytes: number;
  /** CPU time used since the container started, in nanoseconds. */
  cpuUsageNanos: number;
}

/** `/proc/self/cgroup`'s path for each v1 controller (`4:memory:/a/b` → memory → /a/b). */
function ownPaths(): Partial<Record<Controller, string>> {
  const paths: Partial<Record<Controller, string>> = {};
  let text = "";
  try {
    text = readFileSync("/proc/self/cgroup", "utf8");
  } catch {
    return paths;
  }
  for (const line of text.split("\n")) {
    const [, list = "", path = "/"] = line.split(":");
    for (const c of list.split(","))
      if ((CONTROLLERS as readonly string[]).includes(c)) paths[c as Controller] = path;
  }
  return paths;
}

export class Cgroups {
  private constructor(private readonly bases: Record<Controller, string>) {}

  /** The cgroup v1 hierarchy this process may make cgroups in, or null. */
  static detect(root = "/sys/fs/cgroup"): Cgroups | null {
    if (process.getuid?.() !== 0) return null;
    const own = ownPaths();
    const bases = {} as Record<Controller, string>;
    for (const c of CONTROLLERS) {
      const base = join(root, c, own[c] ?? "/", "bosun");
      if (!existsSync(join(root, c, "cgroup.procs"))) return null;
      bases[c] = base;
    }
    return new Cgroups(bases);
  }

  private dir(controller: Controller, id: string): string {
    return join(this.bases[controller], id);
  }

  /**
   * Makes the container's cgroups with its limits; the `cgroup.procs` files its first process
   * writes itself into.
   */
  async create(id: string, limits: ContainerLimits): Promise<string[]> {
    await this.remove(id);
    for (const c of CONTROLLERS) await mkdir(this.dir(c, id), { recursive: true });
    if (limits.memoryLimitBytes !== undefined && limits.memoryLimitBytes > 0)
      await writeFile(
        join(this.dir("memory", id), "memory.limit_in_bytes"),
        String(limits.memoryLimitBytes),
      );
    if (limits.cpuLimitMilli !== undefined && limits.cpuLimitMilli > 0) {
      const quota = Math.max(
        MIN_CFS_QUOTA_US,
        Math.round((limits.cpuLimitMilli * CFS_PERIOD_US) / 1000),
      );
      await writeFile(join(this.dir("cpu", id), "cpu.cfs_period_us"), String(CFS_PERIOD_US));
      await writeFile(join(this.dir("cpu", id), "cpu.cfs_quota_us"), String(quota));
    }
    return CONTROLLERS.map((c) => join(this.dir(c, id), "cgroup.procs"));
  }

  /** Whether the kernel's OOM killer killed a process of the container. */
  oomKilled(id: string): boolean {
    try {
      const text = readFileSync(join(this.dir("memory", id), "memory.oom_control"), "utf8");
      const match = /^oom_kill (\d+)$/m.exec(text);
      return match !== null && Number(match[1]) > 0;
    } catch {
      return false;
    }
  }

  stats(id: string): CgroupStats | null {
    try {
      return {
        memoryUsageBytes: Number(
          readFileSync(join(this.dir("memory", id), "memory.usage_in_bytes"), "utf8").trim(),
        ),
        cpuUsageNanos: Number(
          readFileSync(join(this.dir("cpuacct", id), "cpuacct.usage"), "utf8").trim(),
        ),
      };
    } catch {
      return null;
    }
  }

  /** Removes the container's cgroups (once its processes are gone); absent ones are fine. */
  async remove(id: string): Promise<void> {
    for (const c of CONTROLLERS) await rmdir(this.dir(c, id)).catch(() => {});
  }

  /** Removes a pod's cgroups (its containers' and its own) once their processes are gone. */
  async removePod(podUid: string): Promise<void> {
    for (const c of CONTROLLERS) {
      const dir = this.dir(c, podUid);
      const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const child of children)
        if (child.isDirectory()) await rmdir(join(dir, child.name)).catch(() => {});
      await rmdir(dir).catch(() => {});
    }
  }
}
