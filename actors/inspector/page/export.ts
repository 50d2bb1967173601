/**
 * Exports of the statechart on screen: SVG (the drawing with the page's `.chart` rules copied
 * in, so it looks the same anywhere), JSON (what `bosun inspect --format json` prints) and
 * Mermaid (the CLI's own renderMermaid, bundled, not a second copy).
 */
import { renderMermaid } from "../../system/machine-chart.ts";
import type { ChartView } from "../ui-protocol.ts";
import { browserClock } from "./browser-clock.ts";

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  browserClock.after(0, () => URL.revokeObjectURL(url));
}

function chartRules(): string {
  const rules: string[] = [];
  for (const sheet of Array.from(document.styleSheets)) {
    let list: CSSRuleList;
    try {
      list = sheet.cssRules;
    } catch {
      continue; // another origin's sheet (there are none, but reading it would throw)
    }
    for (const rule of Array.from(list))
      if (rule.cssText.startsWith(".chart")) rules.push(rule.cssText);
  }
  return rules.join("\n");
}

export function svgText(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  const style = document.createElementNS("http://www.w3.org/2000/svg", "style");
  style.textContent = chartRules();
  copy.insertBefore(style, copy.firstChild);
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
}

const fileName = (actor: string, ext: string) =>
  `${actor.replace(/[^A-Za-z0-9_.-]+/g, "_")}.${ext}`;

export function exportSvg(actor: string, svg: SVGSVGElement): void {
  download(fileName(actor, "svg"), "image/svg+xml", svgText(svg));
}

export function exportJson(actor: string, view: ChartView): void {
  download(fileName(actor, "json"), "application/json", `${JSON.stringify(view, null, 2)}\n`);
}

export function exportMermaid(actor: string, view: ChartView): void {
  download(fileName(actor, "mmd"), "text/plain", `${renderMermaid(view.chart)}\n`);
}
