/**
 * What the browser inspector's page and the node that serves it say to each other (JSON over
 * `/ui/api/*`, records over server-sent events). Plain types, shared by both sides.
 */
import type { InspectionRecord } from "../system/inspection-ring.ts";
import type { ChartNode } from "../system/machine-chart.ts";

export interface ActorRow {
  address: string;
  machine: string;
  state: unknown;
  status: string;
  restarts: number;
  lastError: string | null;
  lastEvent: { type: string; atMs: number; from: string | null } | null;
}

export interface NodeRow {
  id: string;
  up: boolean;
  /** Why the node is not answering. */
  error?: string;
  /** The node's Raft view, on servers. */
  raft?: { role: string; term: number; leader: string | null } | null;
  actors: ActorRow[];
}

/** `GET /ui/api/cluster`: every node the serving node knows, asked over the mesh. */
export interface ClusterView {
  servedBy: string;
  atMs: number;
  nodes: NodeRow[];
}

/** `GET /ui/api/chart?actor=`: what `/inspect/chart` answers (and `bosun inspect --format json`). */
export interface ChartView {
  chart: ChartNode;
  state: unknown;
  status?: string;
}

/** One server-sent event of `/ui/api/stream`: records, oldest first, and how many were dropped. */
export interface StreamBatch {
  records: InspectionRecord[];
  /** Records this client did not keep up with (its queue was full) since the last batch. */
  dropped: number;
}

export const UI_STREAM_EVENT = "records";
