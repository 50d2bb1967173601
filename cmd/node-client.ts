import { baseUrl, type ClusterNode } from "./cluster-file.ts";

/** Talks to one node's HTTP surface; every call has a deadline so a stopped node cannot hang the CLI. */
export const NODE_REQUEST_TIMEOUT_MS = 2_000;

export async function getJson<T>(
  node: Pick<ClusterNode, "host" | "port">,
  path: string,
): Promise<T> {
  const res = await fetch(`${baseUrl(node)}${path}`, {
    signal: AbortSignal.timeout(NODE_REQUEST_TIMEOUT_MS),
  });
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status} from ${path}`);
  return body;
}

export async function isReady(
  node: Pick<ClusterNode, "host" | "port">,
): Promise<{ ready: boolean; reason: string }> {
  try {
    const res = await fetch(`${baseUrl(node)}/readyz`, {
      signal: AbortSignal.timeout(NODE_REQUEST_TIMEOUT_MS),
    });
    return { ready: res.ok, reason: (await res.text()).trim() };
  } catch (error) {
    return { ready: false, reason: `not answering (${(error as Error).message})` };
  }
}
