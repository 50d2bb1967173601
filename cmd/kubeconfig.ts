import { readFileSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { renderKubeconfig } from "../actors/apiserver/kubeconfig.ts";
import { createClientCertificate, pkiPaths } from "../actors/apiserver/pki.ts";
import { SystemClock } from "../actors/system/clock.ts";
import { defaultRunDir, readClusterFile } from "./cluster-file.ts";

interface KubeconfigOptions {
  runDir: string;
  user: string;
  group: string[];
  out?: string;
}

/**
 * `bosun kubeconfig --user NAME [--group G]...`: a kubeconfig for the cluster whose credentials
 * are a client certificate for NAME in the groups G, signed by the cluster CA from the run dir
 * (`kubeadm kubeconfig user --client-name`). What the user may do is up to RBAC: bind a role
 * to the user or a group first.
 */
export function kubeconfigCommand(): Command {
  return new Command("kubeconfig")
    .description("issue a kubeconfig with a client certificate for a user (CN) and groups (O)")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .requiredOption("--user <name>", "the user name (the certificate's CN)")
    .option(
      "--group <group>",
      "a group (the certificate's O); repeatable",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--out <file>", "write it to this file (mode 0600) instead of stdout")
    .action((options: KubeconfigOptions) => {
      const cluster = readClusterFile(options.runDir);
      const pki = pkiPaths(options.runDir);
      const ca = {
        certPem: readFileSync(pki.caCert, "utf8"),
        keyPem: readFileSync(pki.caKey, "utf8"),
      };
      const cert = createClientCertificate(
        ca,
        options.user,
        options.group,
        new SystemClock().wallMs(),
      );
      const servers = cluster.nodes
        .filter((n) => n.apiPort !== undefined)
        .map((n) => ({ id: n.id, url: `https://${n.host}:${n.apiPort}` }));
      const text = renderKubeconfig({
        clusterName: cluster.name,
        caCertPem: ca.certPem,
        credentials: cert,
        userName: options.user,
        servers,
      });
      if (options.out) writeFileSync(options.out, text, { mode: 0o600 });
      else process.stdout.write(text);
    });
}
