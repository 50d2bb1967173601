/**
 * Which data path the proxy uses (kube-proxy's `--proxy-mode`):
 *
 * - `iptables`: DNAT rules in the nat OUTPUT chain, loaded with `iptables-restore` (Debian's
 *   `iptables` package). The kernel forwards; the proxy only writes rules.
 * - `nftables`: the same in a table of its own, loaded with `nft -f` (Debian's `nftables`).
 * - `userspace`: the proxy accepts and splices every connection itself (tcp-forwarder.ts).
 *
 * By default the first kernel mode whose tool is installed and works here (which needs root,
 * or CAP_NET_ADMIN) is chosen, else userspace; a kernel mode asked for that cannot run falls
 * back to userspace too, with a warning, rather than leaving Services unreachable.
 */
import { spawnSync } from "node:child_process";

export const PROXY_MODES = ["iptables", "nftables", "userspace"] as const;
export type ProxyMode = (typeof PROXY_MODES)[number];
export type KernelProxyMode = Exclude<ProxyMode, "userspace">;

/** How long an iptables call waits for the xtables lock another process holds (seconds). */
export const XTABLES_LOCK_WAIT_SECONDS = 5;

/** Parses a `--proxy-mode` value; "" and "auto" mean "the best that works here". */
export function parseProxyMode(value: string | undefined): ProxyMode | "auto" {
  if (value === undefined || value === "" || value === "auto") return "auto";
  if ((PROXY_MODES as readonly string[]).includes(value)) return value as ProxyMode;
  throw new Error(`--proxy-mode: ${value} is not one of ${PROXY_MODES.join(", ")}`);
}

function succeeds(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 10_000 });
  return result.error === undefined && result.status === 0;
}

/** The kernel mode's tool is installed and may change the nat table here. */
export function kernelModeWorks(mode: KernelProxyMode): boolean {
  if (mode === "iptables")
    return (
      succeeds("iptables-restore", ["--version"]) &&
      succeeds("iptables", ["-w", String(XTABLES_LOCK_WAIT_SECONDS), "-t", "nat", "-S", "OUTPUT"])
    );
  return succeeds("nft", ["list", "tables"]);
}

/** The mode to run: `requested` when it works here, else the best fallback, and why. */
export function resolveProxyMode(
  requested: ProxyMode | "auto",
  works: (mode: KernelProxyMode) => boolean = kernelModeWorks,
): { mode: ProxyMode; fallbackReason: string | null } {
  if (requested === "userspace") return { mode: "userspace", fallbackReason: null };
  if (requested !== "auto")
    return works(requested)
      ? { mode: requested, fallbackReason: null }
      : { mode: "userspace", fallbackReason: `${requested} is not installed or not permitted` };
  for (const mode of ["iptables", "nftables"] as const)
    if (works(mode)) return { mode, fallbackReason: null };
  return { mode: "userspace", fallbackReason: "neither iptables nor nft works here" };
}
