/**
 * A laid-out statechart (chart-layout.ts) as SVG: a box per state (compound states framed with
 * their name on top, parallel regions dashed, final states double-framed), an arrow per
 * targeted transition with its `event [guard]` label, targetless transitions listed inside
 * their state. Styling is by class (`.chart …` rules in style.css, which the SVG export copies),
 * so highlighting the active states is a class change, not a redraw.
 */
import { activeIds } from "../../system/machine-chart.ts";
import type { ChartLayout, PlacedEdge } from "./chart-layout.ts";
import { s } from "./element.ts";

const MARGIN = 8;
const CORNER = 8;

function pathOf(points: { x: number; y: number }[]): string {
  return points
    .map((p, i) => `${i === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`)
    .join(" ");
}

export interface ChartDrawing {
  svg: SVGSVGElement;
  /** Marks the states active in `value`, and the transitions just taken from `before`. */
  highlight(value: unknown, before?: unknown, event?: string): void;
}

function edgeElement(edge: PlacedEdge): SVGGElement {
  const g = s("g", {
    class: "transition",
    "data-source": edge.source,
    "data-target": edge.target,
    "data-event": edge.event,
  });
  g.append(s("title", {}, edge.detail));
  g.append(s("path", { d: pathOf(edge.points), "marker-end": "url(#chart-arrow)" }));
  if (edge.labelBox) {
    const { x, y, width, height } = edge.labelBox;
    g.append(s("rect", { class: "label-bg", x, y, width, height, rx: 3 }));
    g.append(s("text", { class: "label", x: x + width / 2, y: y + height - 4.5 }, edge.label));
  }
  return g;
}

export function drawChart(rootId: string, layout: ChartLayout): ChartDrawing {
  const width = Math.ceil(layout.width + 2 * MARGIN);
  const height = Math.ceil(layout.height + 2 * MARGIN);
  const svg = s("svg", {
    class: "chart",
    xmlns: "http://www.w3.org/2000/svg",
    viewBox: `${-MARGIN} ${-MARGIN} ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": `statechart ${rootId}`,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        {
          id: "chart-arrow",
          viewBox: "0 0 10 10",
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: "auto-start-reverse",
        },
        s("path", { class: "arrow-head", d: "M0,0 L10,5 L0,10 z" }),
      ),
    ),
  );
  const states = new Map<string, SVGGElement>();
  for (const st of layout.states) {
    const classes = ["state"];
    if (st.compound) classes.push("compound");
    if (st.region) classes.push("region");
    if (st.type === "final") classes.push("final");
    if (st.depth === 0) classes.push("root");
    const g = s("g", { class: classes.join(" "), "data-state-id": st.id });
    g.append(s("title", {}, st.id));
    g.append(
      s("rect", {
        class: "frame",
        x: st.x,
        y: st.y,
        width: st.width,
        height: st.height,
        rx: CORNER,
      }),
    );
    if (st.type === "final") {
      g.append(
        s("rect", {
          class: "inner-frame",
          x: st.x + 3,
          y: st.y + 3,
          width: st.width - 6,
          height: st.height - 6,
          rx: CORNER - 2,
        }),
      );
    }
    const nameY = st.y + 18;
    g.append(
      s("text", { class: "name", x: st.x + 12, y: nameY }, st.depth === 0 ? `⎈ ${st.key}` : st.key),
    );
    st.lines.forEach((line, i) => {
      g.append(s("text", { class: "line", x: st.x + 12, y: nameY + 16 + i * 15 }, line));
    });
    if (st.compound) {
      const ruleY = st.y + 26 + st.lines.length * 15;
      g.append(s("line", { class: "rule", x1: st.x, x2: st.x + st.width, y1: ruleY, y2: ruleY }));
    }
    states.set(st.id, g);
    svg.append(g);
  }
  for (const init of layout.initials) {
    svg.append(
      s(
        "g",
        { class: "initial" },
        s("circle", { cx: init.x, cy: init.y, r: 4.5 }),
        init.points.length > 1
          ? s("path", { d: pathOf(init.points), "marker-end": "url(#chart-arrow)" })
          : null,
      ),
    );
  }
  for (const a of layout.anchors) {
    svg.append(s("circle", { class: "anchor", cx: a.x, cy: a.y, r: 3.5 }));
  }
  const edges = layout.edges.map((edge) => {
    const g = edgeElement(edge);
    svg.append(g);
    return { edge, g };
  });

  return {
    svg,
    highlight(value, before, event) {
      const active = activeIds(rootId, value);
      for (const [id, g] of states) g.classList.toggle("active", active.has(id));
      const was = before === undefined ? null : activeIds(rootId, before);
      for (const { edge, g } of edges) {
        const taken =
          was !== null &&
          event !== undefined &&
          // eventless (`always`) transitions fire in the same macrostep as the event
          (edge.event === event || edge.event === "always") &&
          was.has(edge.source) &&
          active.has(edge.target) &&
          !was.has(edge.target);
        g.classList.toggle("taken", taken);
      }
    },
  };
}
