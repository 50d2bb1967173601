/**
 * A statechart (actors/system/machine-chart.ts's ChartNode) laid out by elkjs: states as boxes
 * (compound states contain their children, a parallel state's regions side by side), targeted
 * transitions as routed edges labelled `event [guard]`, targetless ones as lines inside their
 * state, an initial-state dot in each compound state. Coordinates are absolute (ELK's ROOT
 * coordinates), ready for chart-svg.ts.
 */
import ELK, { type ElkExtendedEdge, type ElkNode } from "elkjs/lib/elk.bundled.js";
import type { ChartNode, ChartTransition } from "../../system/machine-chart.ts";
import { eventName } from "./event-names.ts";

export interface PlacedState {
  id: string;
  key: string;
  type: string;
  depth: number;
  x: number;
  y: number;
  width: number;
  height: number;
  compound: boolean;
  /** A region of a parallel state (drawn dashed). */
  region: boolean;
  /** Targetless transitions, one line each. */
  lines: string[];
}

export interface PlacedEdge {
  id: string;
  source: string;
  target: string;
  event: string;
  label: string;
  /** Guard and actions, for the tooltip. */
  detail: string;
  points: { x: number; y: number }[];
  labelBox: { x: number; y: number; width: number; height: number } | null;
}

export interface PlacedInitial {
  x: number;
  y: number;
  /** The edge from the dot to the initial state. */
  points: { x: number; y: number }[];
}

export interface ChartLayout {
  width: number;
  height: number;
  states: PlacedState[];
  edges: PlacedEdge[];
  initials: PlacedInitial[];
  /** Where transitions "from anywhere in this state" start (a hollow dot inside it). */
  anchors: { x: number; y: number }[];
}

export type MeasureText = (text: string, font: "name" | "line" | "label") => number;

export const CHART_FONTS = {
  name: "600 13px system-ui, sans-serif",
  line: "11px ui-monospace, monospace",
  label: "11.5px system-ui, sans-serif",
};
const NAME_HEIGHT = 26;
const LINE_HEIGHT = 15;
const LABEL_HEIGHT = 16;
const PADDING = 12;
/** Targetless transitions listed in a state; the rest is summed up as `+N more`. */
export const MAX_STATE_LINES = 6;
const INITIAL_SIZE = 10;
const ANCHOR_SIZE = 8;

function transitionLabel(t: ChartTransition): string {
  const event = eventName(t.event);
  return t.guard ? `${event} [${t.guard}]` : event;
}

/** Whether state `a` contains state `b` (ids are dotted paths). */
function contains(a: string, b: string): boolean {
  return b.startsWith(`${a}.`);
}

function transitionDetail(t: ChartTransition): string {
  const parts = [transitionLabel(t)];
  if (t.actions.length > 0) parts.push(`/ ${t.actions.join(", ")}`);
  return parts.join(" ");
}

function stateLines(node: ChartNode): string[] {
  const lines = node.transitions
    .filter((t) => t.targets.length === 0)
    .map((t) => {
      const actions = t.actions.length ? ` / ${t.actions.join(", ")}` : "";
      return `${transitionLabel(t)}${actions}`;
    });
  if (lines.length <= MAX_STATE_LINES) return lines;
  return [...lines.slice(0, MAX_STATE_LINES - 1), `+${lines.length - MAX_STATE_LINES + 1} more`];
}

/** A canvas-based text measure with the SVG's fonts. */
export function canvasMeasure(): MeasureText {
  const context = document.createElement("canvas").getContext("2d");
  return (text, font) => {
    if (context === null) return text.length * 7;
    context.font = CHART_FONTS[font];
    return context.measureText(text).width;
  };
}

interface Built {
  graph: ElkNode;
  info: Map<string, { node: ChartNode; depth: number; region: boolean; lines: string[] }>;
  edges: Map<string, Omit<PlacedEdge, "points" | "labelBox">>;
}

/** States some descendant transitions into: they need an anchor to be targeted. */
function anchoredTargetsOf(chart: ChartNode): Set<string> {
  const out = new Set<string>();
  const visit = (node: ChartNode) => {
    for (const t of node.transitions) {
      for (const target of t.targets) if (contains(target, node.id)) out.add(target);
    }
    for (const child of node.states) visit(child);
  };
  visit(chart);
  return out;
}

function buildGraph(chart: ChartNode, measure: MeasureText): Built {
  const anchoredTargets = anchoredTargetsOf(chart);
  const info: Built["info"] = new Map();
  const edges: Built["edges"] = new Map();
  const elkEdges: ElkExtendedEdge[] = [];
  let nextEdge = 0;

  const visit = (node: ChartNode, depth: number, region: boolean): ElkNode => {
    const lines = stateLines(node);
    info.set(node.id, { node, depth, region, lines });
    const linesWidth = Math.max(0, ...lines.map((l) => measure(l, "line")));
    const nameWidth = measure(node.key, "name");
    const header = NAME_HEIGHT + lines.length * LINE_HEIGHT;
    // ELK cannot route an edge between a state and its own descendant: such transitions
    // ("from anywhere in this state", like the pod's `pod.deleted`) start at an anchor inside it
    let anchor: string | null = null;
    for (const t of node.transitions) {
      for (const rawTarget of t.targets) {
        let from = node.id;
        let target = rawTarget;
        if (node.states.length > 0 && (contains(node.id, target) || target === node.id)) {
          anchor ??= `${node.id}::anchor`;
          from = anchor;
        } else if (contains(target, node.id)) {
          target = `${target}::anchor`; // into an enclosing state: to its anchor
        }
        const id = `e${nextEdge++}`;
        const label = transitionLabel(t);
        edges.set(id, {
          id,
          source: node.id,
          target: rawTarget,
          event: t.event,
          label,
          detail: transitionDetail(t),
        });
        elkEdges.push({
          id,
          sources: [from],
          targets: [target],
          labels: [{ text: label, width: measure(label, "label") + 8, height: LABEL_HEIGHT }],
        });
      }
    }
    if (node.states.length === 0) {
      return {
        id: node.id,
        width: Math.ceil(Math.max(nameWidth + 2 * PADDING, linesWidth + 2 * PADDING, 72)),
        height: header + (lines.length > 0 ? 8 : 6),
      };
    }
    const children = node.states.map((child) => visit(child, depth + 1, node.type === "parallel"));
    if (anchor !== null || anchoredTargets.has(node.id)) {
      children.push({ id: `${node.id}::anchor`, width: ANCHOR_SIZE, height: ANCHOR_SIZE });
    }
    if (node.initial !== undefined && node.type !== "parallel") {
      const dot = `${node.id}::initial`;
      children.unshift({ id: dot, width: INITIAL_SIZE, height: INITIAL_SIZE });
      elkEdges.push({ id: `${dot}::edge`, sources: [dot], targets: [node.initial] });
    }
    return {
      id: node.id,
      layoutOptions: {
        "elk.padding": `[top=${header + 8},left=${PADDING},bottom=${PADDING},right=${PADDING}]`,
        "elk.nodeSize.minimum": `(${Math.ceil(Math.max(nameWidth, linesWidth) + 2 * PADDING)}, 0)`,
        "elk.nodeSize.constraints": "MINIMUM_SIZE",
      },
      children,
    };
  };

  const root = visit(chart, 0, false);
  root.layoutOptions = {
    ...root.layoutOptions,
    "elk.algorithm": "layered",
    "elk.direction": "RIGHT",
    "elk.hierarchyHandling": "INCLUDE_CHILDREN",
    "elk.json.edgeCoords": "ROOT",
    "elk.json.shapeCoords": "ROOT",
    "elk.layered.spacing.nodeNodeBetweenLayers": "48",
    "elk.spacing.nodeNode": "28",
    "elk.spacing.edgeLabel": "4",
    "elk.spacing.edgeNode": "14",
    "elk.layered.spacing.edgeNodeBetweenLayers": "14",
    "elk.edgeLabels.placement": "CENTER",
    "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  };
  root.edges = elkEdges;
  return { graph: root, info, edges };
}

const elk = new ELK();

export async function layoutChart(chart: ChartNode, measure: MeasureText): Promise<ChartLayout> {
  const { graph, info, edges } = buildGraph(chart, measure);
  const laid = await elk.layout(graph);
  const states: PlacedState[] = [];
  const initials: PlacedInitial[] = [];
  const dots = new Map<string, { x: number; y: number }>();
  const anchors: { x: number; y: number }[] = [];
  const walk = (n: ElkNode) => {
    const meta = info.get(n.id);
    if (meta) {
      states.push({
        id: n.id,
        key: meta.node.key,
        type: meta.node.type,
        depth: meta.depth,
        x: n.x ?? 0,
        y: n.y ?? 0,
        width: n.width ?? 0,
        height: n.height ?? 0,
        compound: meta.node.states.length > 0,
        region: meta.region,
        lines: meta.lines,
      });
    } else if (n.id.endsWith("::anchor")) {
      anchors.push({ x: (n.x ?? 0) + ANCHOR_SIZE / 2, y: (n.y ?? 0) + ANCHOR_SIZE / 2 });
    } else if (n.id.endsWith("::initial")) {
      dots.set(n.id, { x: (n.x ?? 0) + INITIAL_SIZE / 2, y: (n.y ?? 0) + INITIAL_SIZE / 2 });
    }
    for (const child of n.children ?? []) walk(child);
  };
  walk(laid);
  const placed: PlacedEdge[] = [];
  const collect = (n: ElkNode) => {
    for (const e of n.edges ?? []) {
      const section = e.sections?.[0];
      const points = section
        ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]
        : [];
      const dot = e.id.endsWith("::edge") ? dots.get(e.id.replace(/::edge$/, "")) : undefined;
      if (dot !== undefined) {
        initials.push({ x: dot.x, y: dot.y, points });
        continue;
      }
      const meta = edges.get(e.id);
      if (meta === undefined) continue;
      const label = e.labels?.[0];
      placed.push({
        ...meta,
        points,
        labelBox:
          label && label.x !== undefined && label.y !== undefined
            ? { x: label.x, y: label.y, width: label.width ?? 0, height: label.height ?? 0 }
            : null,
      });
    }
    for (const child of n.children ?? []) collect(child);
  };
  collect(laid);
  states.sort((a, b) => a.depth - b.depth);
  return {
    width: laid.width ?? 0,
    height: laid.height ?? 0,
    states,
    edges: placed,
    initials,
    anchors,
  };
}
