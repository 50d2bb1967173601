/**
 * The page's calls to the node that served it (actors/inspector/ui-routes.ts): JSON reads, and
 * the server-sent event stream. A 401 means the session is gone: back to the sign-in form.
 */
import type { InspectionPage } from "../../system/inspection-ring.ts";
import {
  type ChartView,
  type ClusterView,
  type StreamBatch,
  UI_STREAM_EVENT,
} from "../ui-protocol.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (res.status === 401) {
    location.assign("/ui/login");
    throw new ApiError(401, "signed out");
  }
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body;
}

export const fetchCluster = () => getJson<ClusterView>("/ui/api/cluster");

export const fetchChart = (actor: string) =>
  getJson<ChartView>(`/ui/api/chart?actor=${encodeURIComponent(actor)}`);

export const fetchEvents = (actor: string, since: number, limit = 1000) =>
  getJson<InspectionPage>(
    `/ui/api/events?actor=${encodeURIComponent(actor)}&since=${since}&limit=${limit}`,
  );

export type StreamState = "connecting" | "live" | "reconnecting";

/**
 * Opens `/ui/api/stream` for the cluster (actor null) or one actor. The browser reconnects by
 * itself when the node restarts; `onState` says how it stands. Returns the close function.
 */
export function openStream(
  actor: string | null,
  onBatch: (batch: StreamBatch) => void,
  onState: (state: StreamState) => void,
): () => void {
  const url =
    actor === null ? "/ui/api/stream" : `/ui/api/stream?actor=${encodeURIComponent(actor)}`;
  const source = new EventSource(url);
  onState("connecting");
  source.addEventListener("open", () => onState("live"));
  source.addEventListener("error", () => onState("reconnecting"));
  source.addEventListener(UI_STREAM_EVENT, (event) => {
    onBatch(JSON.parse((event as MessageEvent<string>).data) as StreamBatch);
  });
  return () => source.close();
}
