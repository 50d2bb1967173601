/**
 * The host-local lock of a cluster's cluster-IP listeners. Cluster IPs are loopback addresses,
 * so every node of a cluster on one host would bind the same `clusterIP:port`; only one proxy
 * may. The lock is an abstract unix socket (Linux: a name starting with NUL, no file): the proxy
 * that binds it holds the listeners; the others' binds fail with EADDRINUSE, and they try again
 * on a short timer. The kernel releases an abstract socket when its process dies, even by
 * SIGKILL, so there is no stale lock to detect or clean up, and nothing to clean on disk.
 *
 * The name is per cluster (a hash of the cluster's identity), so two clusters on one host each
 * get a holder.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:net";

export function hostLockName(clusterIdentity: string): string {
  const digest = createHash("sha256")
    .update("bosun proxy host lock\0")
    .update(clusterIdentity)
    .digest("hex")
    .slice(0, 16);
  return `\0bosun-proxy-cluster-ips-${digest}`;
}

export class HostLock {
  private server: Server | null = null;

  constructor(readonly name: string) {}

  held(): boolean {
    return this.server !== null;
  }

  /** Resolves true when this process now holds the lock, false when another does. */
  tryAcquire(): Promise<boolean> {
    if (this.server !== null) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => socket.destroy());
      server.once("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "EADDRINUSE") resolve(false);
        else reject(error);
      });
      server.listen({ path: this.name }, () => {
        server.removeAllListeners("error");
        server.on("error", () => undefined);
        this.server = server;
        resolve(true);
      });
    });
  }

  release(): void {
    this.server?.close();
    this.server = null;
  }
}
