/**
 * The kubeconfig `bosun up` writes: one cluster entry per API server (the CA inline), the admin
 * user with its bearer token, and a context per server; the current context is the first.
 * `bosun kubeconfig --user` writes the same with a client certificate instead of the token.
 * Rendered as YAML, the way `kubectl config view --raw` prints it.
 */
import { stringify } from "yaml";

/** A user's credentials: a bearer token, or a client certificate and its key (PEM). */
export type KubeconfigCredentials = { token: string } | { certPem: string; keyPem: string };

export interface KubeconfigInput {
  clusterName: string;
  caCertPem: string;
  credentials: KubeconfigCredentials;
  /** The kubeconfig's user name (default `<cluster>-admin`). */
  userName?: string;
  /** `https://host:port` of each server, in order; the first is the current context. */
  servers: readonly { id: string; url: string }[];
}

export function renderKubeconfig(input: KubeconfigInput): string {
  const caData = Buffer.from(input.caCertPem, "utf8").toString("base64");
  const user = input.userName ?? `${input.clusterName}-admin`;
  const b64 = (pem: string) => Buffer.from(pem, "utf8").toString("base64");
  const credentials =
    "token" in input.credentials
      ? { token: input.credentials.token }
      : {
          "client-certificate-data": b64(input.credentials.certPem),
          "client-key-data": b64(input.credentials.keyPem),
        };
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
    users: [{ name: user, user: credentials }],
    contexts: input.servers.map((s, i) => ({
      name: contextName(s.id, i),
      context: { cluster: contextName(s.id, i), user },
    })),
    "current-context": input.clusterName,
  };
  return stringify(doc);
}
