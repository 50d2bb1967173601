/**
 * The cluster view's data: every node's actors, asked of each node's `node` actor over the mesh
 * (`system.status`, what `/status?node=` answers), in parallel and each with a deadline, so a
 * node that is down shows as down instead of holding the page.
 */
import type { ActorStatus, ActorSystem } from "../system/actor-system.ts";
import type { ActorRow, ClusterView, NodeRow } from "./ui-protocol.ts";

/** A node that has not answered within this is shown as down. */
export const SURVEY_ASK_TIMEOUT_MS = 1_500;

function raftOf(raft: unknown): NodeRow["raft"] {
  if (typeof raft !== "object" || raft === null) return null;
  const r = raft as Record<string, unknown>;
  return {
    role: String(r.role ?? "?"),
    term: Number(r.term ?? 0),
    leader: typeof r.leader === "string" ? r.leader : null,
  };
}

function rowOf(a: ActorStatus): ActorRow {
  return {
    address: a.address,
    machine: a.machine,
    state: a.state,
    status: a.status,
    restarts: a.restarts,
    lastError: a.lastError,
    lastEvent: a.lastEvent ?? null,
  };
}

/** One node's answer to `system.status` (cmd/node/introspection.ts's NodeStatus), as rows. */
export function nodeRowOf(id: string, status: unknown): NodeRow {
  const s = (status ?? {}) as { actors?: ActorStatus[]; raft?: unknown };
  return { id, up: true, raft: raftOf(s.raft), actors: (s.actors ?? []).map(rowOf) };
}

/** Asks every node in `nodes` (this one too, through its own node actor) as `from`. */
export async function surveyCluster(
  system: ActorSystem,
  from: string,
  nodes: string[],
): Promise<ClusterView> {
  const rows = await Promise.all(
    nodes.map(async (id): Promise<NodeRow> => {
      try {
        const status = await system.ask(
          from,
          `${id}/node`,
          "system.status",
          null,
          SURVEY_ASK_TIMEOUT_MS,
        );
        return nodeRowOf(id, status);
      } catch (error) {
        return { id, up: false, error: (error as Error).message, actors: [] };
      }
    }),
  );
  return { servedBy: system.nodeId, atMs: system.clock.wallMs(), nodes: rows };
}
