/**
 * `bosun certs rotate`: new mesh certificates for the cluster's nodes without a restart. Each
 * node gets a fresh key and a certificate from the run dir's cluster CA in its data dir, then a
 * SIGHUP: its mesh reloads them (new links present the new certificate, established ones keep
 * theirs until they reconnect). A node that is not running picks them up when it starts.
 */

import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { pkiPaths } from "../actors/apiserver/pki.ts";
import { SystemClock } from "../actors/system/clock.ts";
import { issueNodeCertificate } from "../transport/node-certificate.ts";
import { defaultRunDir, readClusterFile } from "./cluster-file.ts";
import { isBosunNode } from "./launcher.ts";
import { writeMeshCredentials } from "./node/mesh-credentials.ts";

export function certsCommand(): Command {
  const command = new Command("certs").description("the mesh's node certificates");
  command
    .command("rotate")
    .description("issue every node (or --node) a new mesh certificate and make it reload")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--node <id>", "only this node")
    .action((o: { runDir: string; node?: string }) => {
      const cluster = readClusterFile(o.runDir);
      if (!cluster.meshTls) throw new Error(`the cluster in ${o.runDir} runs its mesh without TLS`);
      const pki = pkiPaths(o.runDir);
      const ca = {
        certPem: readFileSync(pki.caCert, "utf8"),
        keyPem: readFileSync(pki.caKey, "utf8"),
      };
      const nodes = cluster.nodes.filter((n) => o.node === undefined || n.id === o.node);
      if (nodes.length === 0) throw new Error(`no node ${o.node} in the cluster`);
      const clock = new SystemClock();
      for (const node of nodes) {
        // every member of a cluster file is a server (launcher.ts)
        const material = issueNodeCertificate(ca, node.id, "server", clock.wallMs());
        writeMeshCredentials(node.dataDir, material);
        const serial = new X509Certificate(material.certPem).serialNumber;
        const running = node.pid !== null && isBosunNode(node.pid);
        if (running) process.kill(node.pid as number, "SIGHUP");
        console.log(
          `${node.id}: certificate ${serial}${running ? ", reloaded" : " (used when it starts)"}`,
        );
      }
    });
  return command;
}
