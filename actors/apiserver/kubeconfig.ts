/**
 * The kubeconfig `bosun up` writes: one cluster entry per API server (the CA inline), the admin
 * user with its bearer token, and a context per server; the current context is the first.
 * Rendered as YAML, the way `kubectl config view --raw` prints it.
 */
import { stringify } from "yaml";

export interface KubeconfigInput {
  clusterName: string;
  caCertPem: string;
  token: string;
  /** `https://host:port` of each server, in order; the first is the current context. */
  servers: readonly { id: string; url: string }[];
}

export function renderKubeconfig(input: KubeconfigInput): string {
  const caData = Buffer.from(input.caCertPem, "utf8").toString("base64");
  const user = `${input.clusterName}-admin`;
  const contextName = (id: string, i: number) =>
    i === 0 ? input.clusterName : `${input.clusterName}-${id}`;
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    clusters: input.servers.map((s, i) => ({
      name: contextName(s.id, i),
      cluster: { server: s.url, "certificate-authority-data": caData },
    })),
    users: [{ name: user, user: { token: input.token } }],
    contexts: input.servers.map((s, i) => ({
      name: contextName(s.id, i),
      context: { cluster: contextName(s.id, i), user },
    })),
    "current-context": input.clusterName,
  };
  return stringify(doc);
}
