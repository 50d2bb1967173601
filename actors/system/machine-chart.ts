import type { AnyStateMachine } from "xstate";

/**
 * A statechart reduced to what a person (or the web inspector) needs to draw it: states, their
 * kinds, initial children, and transitions by event. It is plain data, so it crosses the wire.
 */
export interface ChartTransition {
  event: string;
  targets: string[];
  guard?: string;
  actions: string[];
  delayMs?: number | string;
}

export interface ChartNode {
  id: string;
  key: string;
  type: string;
  initial?: string;
  states: ChartNode[];
  transitions: ChartTransition[];
}

/** Targets come as ids in JSON and as state nodes in the live definition. */
type RawTarget = string | { id: string };

function targetId(target: RawTarget): string {
  return (typeof target === "string" ? target : target.id).replace(/^#/, "");
}

interface RawTransition {
  target?: RawTarget[];
  eventType: string;
  delay?: number | string;
  guard?: { type?: string } | string;
  actions?: ({ type?: string } | string)[];
}

interface RawNode {
  id: string;
  key: string;
  type: string;
  initial?: { target?: RawTarget[] };
  states?: Record<string, RawNode>;
  transitions?: RawTransition[];
  always?: RawTransition[];
}

const AFTER_EVENT = /^xstate\.after\./;

function nameOf(part: { type?: string } | string | undefined): string | undefined {
  if (part === undefined) return undefined;
  if (typeof part === "string") return part;
  return part.type ?? "anonymous";
}

function eventLabel(t: RawTransition): string {
  if (t.eventType === "") return "always";
  if (AFTER_EVENT.test(t.eventType)) return `after ${t.delay ?? "?"}`;
  return t.eventType;
}

/** The live state node: `always` transitions are only there, not in its JSON definition. */
interface LiveNode {
  definition: RawNode;
  always?: RawTransition[];
  states: Record<string, LiveNode>;
}

function convert(live: LiveNode): ChartNode {
  const raw = { ...live.definition, always: live.always };
  const node: ChartNode = {
    id: raw.id,
    key: raw.key,
    type: raw.type,
    states: Object.values(live.states).map(convert),
    transitions: [...(raw.transitions ?? []), ...(raw.always ?? [])].map((t) => {
      const transition: ChartTransition = {
        event: eventLabel(t),
        targets: (t.target ?? []).map(targetId),
        actions: (t.actions ?? []).map((a) => nameOf(a) ?? "anonymous"),
      };
      const guard = nameOf(t.guard);
      if (guard !== undefined) transition.guard = guard;
      if (t.delay !== undefined) transition.delayMs = t.delay;
      return transition;
    }),
  };
  const initial = raw.initial?.target?.[0];
  if (initial !== undefined) node.initial = targetId(initial);
  return node;
}

export function chartOf(machine: AnyStateMachine): ChartNode {
  return convert(machine.root as unknown as LiveNode);
}

/** Every state id that is active for an xstate state value (`"a"` or `{ b: "c" }`). */
export function activeIds(rootId: string, value: unknown): Set<string> {
  const out = new Set<string>([rootId]);
  const walk = (prefix: string, v: unknown): void => {
    if (typeof v === "string") {
      out.add(`${prefix}.${v}`);
      return;
    }
    if (typeof v === "object" && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        out.add(`${prefix}.${key}`);
        walk(`${prefix}.${key}`, child);
      }
    }
  };
  walk(rootId, value);
  return out;
}

/** The chart as an indented tree, active states marked with `●`, others with `○`. */
export function renderTree(chart: ChartNode, value: unknown): string {
  const active = activeIds(chart.id, value);
  const lines: string[] = [];
  const visit = (node: ChartNode, depth: number): void => {
    const mark = active.has(node.id) ? "●" : "○";
    const kind = node.type === "final" ? " (final)" : "";
    lines.push(`${"  ".repeat(depth)}${mark} ${node.key}${kind}`);
    for (const t of node.transitions) {
      const guard = t.guard ? ` [${t.guard}]` : "";
      const actions = t.actions.length ? ` / ${t.actions.join(", ")}` : "";
      const targets = t.targets.map((id) => id.split(".").pop()).join(", ") || "(self)";
      lines.push(`${"  ".repeat(depth + 1)}  ${t.event}${guard} → ${targets}${actions}`);
    }
    for (const child of node.states) visit(child, depth + 1);
  };
  visit(chart, 0);
  return lines.join("\n");
}

/** The chart as a Mermaid stateDiagram-v2. */
export function renderMermaid(chart: ChartNode): string {
  const lines = ["stateDiagram-v2"];
  const safe = (id: string) => id.replace(/[^A-Za-z0-9_]/g, "_");
  const visit = (node: ChartNode, depth: number): void => {
    const pad = "  ".repeat(depth);
    if (node.initial) lines.push(`${pad}[*] --> ${safe(node.initial)}`);
    for (const child of node.states) {
      if (child.states.length > 0) {
        lines.push(`${pad}state ${safe(child.id)} {`);
        visit(child, depth + 1);
        lines.push(`${pad}}`);
      }
      lines.push(`${pad}${safe(child.id)} : ${child.key}`);
      if (child.type === "final") lines.push(`${pad}${safe(child.id)} --> [*]`);
      for (const t of child.transitions) {
        for (const target of t.targets) {
          lines.push(`${pad}${safe(child.id)} --> ${safe(target)} : ${t.event}`);
        }
      }
    }
  };
  visit(chart, 1);
  return lines.join("\n");
}

/** A state value as one line: `meshed`, `red.wait`, `{pinger: pinging, mesh: meshed}`. */
export function formatStateValue(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value;
  if (typeof value !== "object") return String(value);
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, child] = entries[0] as [string, unknown];
    return `${key}.${formatStateValue(child)}`;
  }
  return `{${entries.map(([k, v]) => `${k}: ${formatStateValue(v)}`).join(", ")}}`;
}
