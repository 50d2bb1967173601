/**
 * One actor: its statechart drawn (chart-layout.ts + chart-svg.ts) with the active states
 * highlighted as they change, its event log streaming beside it, and time travel — pause, then
 * step back and forth through the history still in its node's inspection ring (the diagram
 * shows the state after the selected event) — and exports as SVG, JSON and Mermaid.
 *
 * Order of loading: the stream opens first and buffers, then the chart and the history are
 * read; buffered records newer than the history are applied after it (records carry their
 * node's sequence numbers, so none is shown twice).
 */
import type { InspectionRecord } from "../../system/inspection-ring.ts";
import { formatStateValue, renderTree } from "../../system/machine-chart.ts";
import type { ChartView, StreamBatch } from "../ui-protocol.ts";
import { fetchChart, fetchEvents, openStream } from "./api.ts";
import { browserClock, clockTime } from "./browser-clock.ts";
import { canvasMeasure, layoutChart } from "./chart-layout.ts";
import { type ChartDrawing, drawChart } from "./chart-svg.ts";
import { h, setText } from "./element.ts";
import { EventHistory, type LogRow } from "./event-history.ts";
import { eventName } from "./event-names.ts";
import { exportJson, exportMermaid, exportSvg } from "./export.ts";
import type { Shell } from "./shell.ts";

/** Rows drawn in the log at once (the history keeps more; the DOM stays small). */
export const MAX_LOG_ROWS_SHOWN = 300;
/** How much larger than its natural size a small chart may be drawn. */
const MAX_CHART_ZOOM = 1.5;
/** The log is redrawn at most this often while live. */
const LOG_RENDER_MS = 200;
/** Pages of history read when the view opens (each up to 1,000 records of the node's ring). */
const MAX_HISTORY_PAGES = 20;

/**
 * What changed between two state values, in a line: `role: candidate → leader` for the regions
 * that moved in a parallel state, `idle → reconciling` for a plain one.
 */
function stateChange(before: unknown, after: unknown): string {
  const isRegions = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && Object.keys(v).length > 1;
  if (isRegions(before) && isRegions(after)) {
    const parts: string[] = [];
    for (const key of Object.keys(after)) {
      const a = formatStateValue(before[key]);
      const b = formatStateValue(after[key]);
      if (a !== b) parts.push(`${key}: ${a} → ${b}`);
    }
    if (parts.length > 0) return parts.join(", ");
  }
  return `${formatStateValue(before)} → ${formatStateValue(after)}`;
}

export class ActorPage {
  private readonly root: HTMLElement;
  private readonly title = h("h1", { class: "actor-title" });
  private readonly meta = h("div", { class: "actor-meta" });
  private readonly stateText = h("code", { class: "current-state" });
  private readonly diagram = h(
    "div",
    { class: "diagram" },
    h("p", { class: "muted" }, "laying out…"),
  );
  private readonly logBody = h("tbody");
  private readonly logNote = h("div", { class: "log-note" });
  private readonly pauseButton = h("button", { type: "button", class: "primary" }, "Pause");
  private readonly backButton = h("button", { type: "button", title: "step back (←)" }, "◀");
  private readonly forwardButton = h("button", { type: "button", title: "step forward (→)" }, "▶");
  private readonly slider = h("input", {
    type: "range",
    min: 0,
    max: 0,
    value: 0,
    "aria-label": "history",
  });
  private readonly position = h("span", { class: "position" });
  private readonly changesOnly = h("input", { type: "checkbox" });
  private readonly eventFilter = h("input", {
    type: "search",
    placeholder: "filter events",
    class: "event-filter",
  });
  private view: ChartView | null = null;
  private drawing: ChartDrawing | null = null;
  private history: EventHistory | null = null;
  private buffered: InspectionRecord[] | null = [];
  private paused = false;
  /** The row shown while paused (by seq). */
  private selected: number | null = null;
  private stops: (() => void)[] = [];
  private renderQueued = false;
  private newWhilePaused = 0;
  private logRenderedMs = 0;
  private cancelLogRender: (() => void) | null = null;

  constructor(
    private readonly shell: Shell,
    private readonly address: string,
  ) {
    const toolbar = h(
      "div",
      { class: "travel" },
      this.pauseButton,
      this.backButton,
      this.forwardButton,
      this.slider,
      this.position,
    );
    const exports = h(
      "div",
      { class: "exports" },
      h("span", { class: "muted" }, "export"),
      this.button("SVG", () => this.drawing && exportSvg(this.address, this.drawing.svg)),
      this.button("JSON", () => this.view && exportJson(this.address, this.view)),
      this.button("Mermaid", () => this.view && exportMermaid(this.address, this.view)),
    );
    const log = h(
      "aside",
      { class: "log" },
      h(
        "div",
        { class: "log-head" },
        h("h2", {}, "events"),
        this.eventFilter,
        h("label", { class: "check" }, this.changesOnly, " state changes only"),
      ),
      toolbar,
      this.logNote,
      h(
        "div",
        { class: "log-scroll" },
        h(
          "table",
          { class: "events" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, "time"),
              h("th", {}, "event"),
              h("th", {}, "source"),
              h("th", {}, "from → to"),
            ),
          ),
          this.logBody,
        ),
      ),
    );
    this.root = h(
      "section",
      { class: "actor" },
      h(
        "div",
        { class: "actor-head" },
        h("div", {}, this.title, this.meta),
        h("div", { class: "state-box" }, h("span", { class: "muted" }, "state"), this.stateText),
        exports,
      ),
      h("div", { class: "actor-body" }, h("div", { class: "diagram-wrap" }, this.diagram), log),
    );
    this.pauseButton.addEventListener("click", () => (this.paused ? this.resume() : this.pause()));
    this.backButton.addEventListener("click", () => this.step(-1));
    this.forwardButton.addEventListener("click", () => this.step(1));
    this.slider.addEventListener("input", () => {
      const rows = this.history?.rows ?? [];
      this.pause();
      this.select(rows[Number(this.slider.value)]?.seq ?? null);
    });
    this.changesOnly.addEventListener("change", () => this.renderLog());
    this.eventFilter.addEventListener("input", () => this.renderLog());
    this.logBody.addEventListener("click", (e) => {
      const tr = (e.target as Element).closest("tr");
      if (!tr?.dataset.seq) return;
      this.pause();
      this.select(Number(tr.dataset.seq));
    });
  }

  private button(text: string, action: () => unknown): HTMLButtonElement {
    const b = h("button", { type: "button" }, text);
    b.addEventListener("click", () => void action());
    return b;
  }

  start(): void {
    this.shell.setCrumbs([{ text: "cluster", href: "#/" }, { text: this.address }]);
    this.shell.main.replaceChildren(this.root);
    setText(this.title, this.address);
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as Element).closest("input")) return;
      if (e.key === "ArrowLeft") this.step(-1);
      else if (e.key === "ArrowRight") this.step(1);
      else if (e.key === " ") {
        e.preventDefault();
        if (this.paused) this.resume();
        else this.pause();
      }
    };
    document.addEventListener("keydown", onKey);
    this.stops.push(() => document.removeEventListener("keydown", onKey));
    this.stops.push(
      openStream(
        this.address,
        (batch) => this.onBatch(batch),
        (state) => this.shell.setStream(this.paused ? "paused" : state),
      ),
    );
    void this.load();
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.cancelLogRender?.();
  }

  private async load(): Promise<void> {
    try {
      this.view = await fetchChart(this.address);
    } catch (error) {
      this.diagram.replaceChildren(
        h("p", { class: "error" }, `cannot read ${this.address}: ${(error as Error).message}`),
      );
      return;
    }
    const view = this.view;
    setText(this.meta, `machine ${view.chart.id} · ${view.status ?? "active"}`);
    let layout: Awaited<ReturnType<typeof layoutChart>>;
    try {
      layout = await layoutChart(view.chart, canvasMeasure());
    } catch (error) {
      // a chart ELK cannot lay out is still shown, as the CLI's tree
      this.diagram.replaceChildren(
        h("p", { class: "error" }, `cannot draw this chart: ${(error as Error).message}`),
        h("pre", { class: "tree" }, renderTree(view.chart, view.state)),
      );
      document.body.dataset.ready = "actor";
      return;
    }
    this.drawing = drawChart(view.chart.id, layout);
    this.diagram.replaceChildren(this.drawing.svg);
    // small charts are drawn larger, up to MAX_CHART_ZOOM, to use the room they have; wide ones
    // keep their natural size (readable text) and scroll
    const room = this.diagram.clientWidth;
    const natural = Number(this.drawing.svg.getAttribute("width"));
    if (room > 0 && natural > 0) {
      const width = natural >= room ? natural : Math.min(room, natural * MAX_CHART_ZOOM);
      this.drawing.svg.style.width = `${Math.round(width)}px`;
    }
    // the history: what the node's ring still holds of this actor
    const records: InspectionRecord[] = [];
    let since = 0;
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      const got = await fetchEvents(this.address, since).catch(() => null);
      if (got === null) break;
      records.push(...got.records);
      if (got.nextSeq <= since || got.records.length === 0) break;
      since = got.nextSeq;
    }
    const first = records.find((r) => r.kind === "@xstate.snapshot" || r.kind === "@xstate.event");
    // the state before the oldest event we have: its first row's "before" (or the current one)
    this.history = new EventHistory(this.address, first ? undefined : view.state);
    for (const r of records) this.history.add(r);
    for (const r of this.buffered ?? []) this.history.add(r);
    this.buffered = null;
    if (this.history.rows.length === 0) this.history.state = view.state;
    this.render();
    // a chart wider than the view opens scrolled to where the actor is
    const active = this.diagram.querySelectorAll("g.state.active:not(.root)");
    active[active.length - 1]?.scrollIntoView({ block: "nearest", inline: "center" });
    document.body.dataset.ready = "actor";
    performance.mark("bosun:actor-ready");
  }

  private onBatch(batch: StreamBatch): void {
    if (this.buffered !== null) {
      this.buffered.push(...batch.records);
      return;
    }
    const history = this.history;
    if (history === null) return;
    let added = 0;
    for (const r of batch.records) if (history.add(r)) added++;
    if (batch.dropped > 0)
      setText(this.logNote, `${batch.dropped} records dropped (the page fell behind)`);
    if (added === 0) return;
    if (this.paused) {
      // a paused view holds still: the history grows (bounded) behind it
      this.newWhilePaused += added;
      setText(this.logNote, `paused · ${this.newWhilePaused} new events since`);
      return;
    }
    this.queueRender();
  }

  /**
   * At most one render per animation frame, however many batches came; the log (hundreds of
   * rows) at most every LOG_RENDER_MS — a Raft leader handles hundreds of events a second.
   */
  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      const now = browserClock.nowMs();
      const logDue = now - this.logRenderedMs >= LOG_RENDER_MS;
      this.render(logDue);
      if (!logDue) {
        this.cancelLogRender?.();
        this.cancelLogRender = browserClock.after(LOG_RENDER_MS, () => {
          this.cancelLogRender = null;
          this.renderLog();
        });
      }
    });
  }

  private current(): { state: unknown; row: LogRow | null } {
    const history = this.history;
    if (history === null) return { state: this.view?.state, row: null };
    const rows = history.rows;
    if (this.paused && this.selected !== null) {
      const row = rows.find((r) => r.seq === this.selected) ?? null;
      if (row) return { state: row.after, row };
    }
    const last = rows.at(-1) ?? null;
    return { state: last ? last.after : history.state, row: last };
  }

  private render(withLog = true): void {
    const { state, row } = this.current();
    setText(this.stateText, formatStateValue(state));
    this.drawing?.highlight(state, row?.before, row?.event);
    const rows = this.history?.rows ?? [];
    this.slider.max = String(Math.max(0, rows.length - 1));
    const index = row ? rows.indexOf(row) : rows.length - 1;
    this.slider.value = String(Math.max(0, index));
    setText(
      this.position,
      rows.length === 0
        ? "no events yet"
        : `${index + 1} / ${rows.length}${this.paused ? "" : " · live"}`,
    );
    this.pauseButton.textContent = this.paused ? "Resume live" : "Pause";
    this.backButton.disabled = !this.paused || index <= 0;
    this.forwardButton.disabled = !this.paused || index >= rows.length - 1;
    this.root.classList.toggle("paused", this.paused);
    if (withLog) this.renderLog();
  }

  private renderLog(): void {
    this.logRenderedMs = browserClock.nowMs();
    const rows = this.history?.rows ?? [];
    const words = this.eventFilter.value.toLowerCase().trim();
    const changesOnly = this.changesOnly.checked;
    const shown: LogRow[] = [];
    for (let i = rows.length - 1; i >= 0 && shown.length < MAX_LOG_ROWS_SHOWN; i--) {
      const r = rows[i] as LogRow;
      if (changesOnly && !EventHistory.changed(r)) continue;
      if (words && !r.event.toLowerCase().includes(words)) continue;
      shown.push(r);
    }
    const selected = this.current().row?.seq;
    this.logBody.replaceChildren(
      ...shown.map((r) => {
        const changed = EventHistory.changed(r);
        const tr = h(
          "tr",
          {
            "data-seq": r.seq,
            class: `${changed ? "changed" : ""}${r.seq === selected ? " selected" : ""}`,
            title: r.payload === undefined ? "" : JSON.stringify(r.payload, null, 1),
          },
          h("td", { class: "t" }, clockTime(r.atMs)),
          h("td", { class: "e", title: r.event }, eventName(r.event)),
          h("td", { class: "s" }, r.source ?? ""),
          h("td", { class: "ft" }, changed ? stateChange(r.before, r.after) : "·"),
        );
        return tr;
      }),
    );
    if (this.paused) {
      this.logBody.querySelector("tr.selected")?.scrollIntoView({ block: "nearest" });
    }
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.selected = this.history?.rows.at(-1)?.seq ?? null;
    this.shell.setStream("paused");
    this.render();
  }

  private resume(): void {
    this.paused = false;
    this.selected = null;
    this.newWhilePaused = 0;
    setText(this.logNote, "");
    this.shell.setStream("live");
    this.render();
  }

  private select(seq: number | null): void {
    this.selected = seq;
    this.render();
  }

  private step(delta: number): void {
    const rows = this.history?.rows ?? [];
    if (!this.paused) this.pause();
    const at = rows.findIndex((r) => r.seq === this.selected);
    const next =
      rows[Math.min(rows.length - 1, Math.max(0, (at < 0 ? rows.length - 1 : at) + delta))];
    if (next) this.select(next.seq);
  }
}
