/**
 * The cluster view: every actor on every node, grouped by node and component, with its state,
 * restarts and last event; search and filters; a node that stops answering is marked down and
 * its last known actors dimmed. The list comes from `/ui/api/cluster` every `POLL_MS`; state
 * changes arrive in between on the live stream and touch only the cells they change.
 */
import { formatStateValue } from "../../system/machine-chart.ts";
import type { ActorRow, ClusterView, NodeRow, StreamBatch } from "../ui-protocol.ts";
import { fetchCluster, openStream } from "./api.ts";
import { ago, browserClock } from "./browser-clock.ts";
import { componentOf, nameOf } from "./components.ts";
import { h, present, setText } from "./element.ts";
import type { Shell } from "./shell.ts";

/** How often the whole list (restarts, last events, new and gone actors) is read again. */
export const POLL_MS = 2_000;
/** A new actor seen on the stream is fetched after this (several come at once). */
const NEW_ACTOR_REFRESH_MS = 300;

interface RowView {
  actor: ActorRow;
  node: string;
  component: string;
  tr: HTMLTableRowElement;
  state: HTMLElement;
  restarts: HTMLElement;
  event: HTMLElement;
  when: HTMLElement;
  /** Lower-cased text the search matches against. */
  haystack: string;
}

interface Filter {
  text: string;
  node: string;
  component: string;
  troubled: boolean;
}

const lastKnownNodes = new Map<string, NodeRow>();

const troubled = (a: ActorRow) => a.restarts > 0 || a.status !== "active" || a.lastError !== null;

export class ClusterPage {
  private readonly root: HTMLElement;
  private readonly list = h("div", { class: "node-list" });
  private readonly summary = h("div", { class: "summary" });
  private readonly nodeSelect = h("select", { "aria-label": "node" });
  private readonly componentSelect = h("select", { "aria-label": "component" });
  private readonly search = h("input", {
    type: "search",
    placeholder: "Search actors, machines, states, events…  ( / )",
    "aria-label": "search",
    class: "search",
  });
  private readonly troubledBox = h("input", { type: "checkbox" });
  /** Shared by every cluster view of this page: a node that went down keeps its last actors. */
  private readonly nodes = lastKnownNodes;
  private readonly rows = new Map<string, RowView>();
  private readonly groupHeads: { tr: HTMLElement; rows: RowView[] }[] = [];
  private readonly nodeCards = new Map<string, HTMLElement>();
  private shape = "";
  private filter: Filter = { text: "", node: "", component: "", troubled: false };
  private stops: (() => void)[] = [];
  private refreshPending: (() => void) | null = null;
  private view: ClusterView | null = null;

  constructor(private readonly shell: Shell) {
    this.root = h(
      "section",
      { class: "cluster" },
      h(
        "div",
        { class: "toolbar" },
        this.search,
        this.nodeSelect,
        this.componentSelect,
        h("label", { class: "check" }, this.troubledBox, " restarted or not active"),
      ),
      this.summary,
      this.list,
    );
    this.search.addEventListener("input", () => this.setFilter({ text: this.search.value }));
    this.nodeSelect.addEventListener("change", () =>
      this.setFilter({ node: this.nodeSelect.value }),
    );
    this.componentSelect.addEventListener("change", () =>
      this.setFilter({ component: this.componentSelect.value }),
    );
    this.troubledBox.addEventListener("change", () =>
      this.setFilter({ troubled: this.troubledBox.checked }),
    );
  }

  start(): void {
    this.shell.setCrumbs([{ text: "cluster" }]);
    this.shell.main.replaceChildren(this.root);
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "/" && document.activeElement !== this.search) {
        e.preventDefault();
        this.search.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    this.stops.push(() => document.removeEventListener("keydown", onKey));
    this.stops.push(
      openStream(
        null,
        (batch) => this.applyBatch(batch),
        (state) => this.shell.setStream(state),
      ),
    );
    this.stops.push(browserClock.every(POLL_MS, () => void this.refresh()));
    void this.refresh();
  }

  stop(): void {
    for (const stop of this.stops) stop();
    this.stops = [];
    this.refreshPending?.();
  }

  private async refresh(): Promise<void> {
    let view: ClusterView;
    try {
      view = await fetchCluster();
    } catch (error) {
      setText(this.summary, `cannot reach ${this.shell.servedBy}: ${(error as Error).message}`);
      this.summary.classList.add("error");
      return;
    }
    this.summary.classList.remove("error");
    this.view = view;
    for (const node of view.nodes) {
      const known = this.nodes.get(node.id);
      // a node that went down keeps its last known actors, shown dimmed
      this.nodes.set(node.id, node.up || !known ? node : { ...node, actors: known.actors });
    }
    this.render();
  }

  /** Rebuilds the list when actors came or went; otherwise updates cells in place. */
  private render(): void {
    const nodes = [...this.nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
    const shape = nodes
      .map((n) => `${n.id}:${n.up}:${n.actors.map((a) => a.address).join(",")}`)
      .join("|");
    if (shape !== this.shape) {
      this.shape = shape;
      this.rebuild(nodes);
    }
    const now = browserClock.wallMs();
    for (const node of nodes) {
      this.updateNodeHead(node);
      for (const actor of node.actors) {
        const row = this.rows.get(actor.address);
        if (row) this.updateRow(row, actor, now);
      }
    }
    this.applyFilter();
    if (document.body.dataset.ready !== "cluster") {
      document.body.dataset.ready = "cluster";
      // the benchmark's "first render" (test/bench/ui.bench.ts)
      performance.mark("bosun:cluster-ready");
    }
  }

  private rebuild(nodes: NodeRow[]): void {
    this.rows.clear();
    this.groupHeads.length = 0;
    this.nodeCards.clear();
    const fragment = document.createDocumentFragment();
    const components = new Set<string>();
    for (const node of nodes) {
      const byComponent = new Map<string, ActorRow[]>();
      for (const actor of node.actors) {
        const component = componentOf(actor.address);
        components.add(component);
        const list = byComponent.get(component) ?? [];
        list.push(actor);
        byComponent.set(component, list);
      }
      const table = h(
        "table",
        { class: "actors" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { class: "c-name" }, "actor"),
            h("th", { class: "c-machine" }, "machine"),
            h("th", { class: "c-state" }, "state"),
            h("th", { class: "c-restarts", title: "restarts" }, "↻"),
            h("th", { class: "c-event" }, "last event"),
            h("th", { class: "c-when" }, ""),
          ),
        ),
      );
      const body = h("tbody");
      for (const component of [...byComponent.keys()].sort()) {
        const actors = (byComponent.get(component) ?? []).sort((a, b) =>
          a.address.localeCompare(b.address),
        );
        const head = h(
          "tr",
          { class: "group" },
          h("th", { colspan: 6 }, component, h("span", { class: "count" }, String(actors.length))),
        );
        body.append(head);
        const group: RowView[] = [];
        for (const actor of actors) {
          const row = this.makeRow(node.id, component, actor);
          group.push(row);
          body.append(row.tr);
        }
        this.groupHeads.push({ tr: head, rows: group });
      }
      table.append(body);
      const card = h(
        "section",
        { class: `node-card ${node.up ? "up" : "down"}`, "data-node": node.id },
        h("header", { class: "node-head" }),
        table,
      );
      this.nodeCards.set(node.id, card);
      fragment.append(card);
    }
    this.list.replaceChildren(fragment);
    this.fillSelect(
      this.nodeSelect,
      "all nodes",
      nodes.map((n) => n.id),
    );
    this.fillSelect(this.componentSelect, "all components", [...components].sort());
  }

  private fillSelect(select: HTMLSelectElement, all: string, values: string[]): void {
    const current = select.value;
    select.replaceChildren(
      h("option", { value: "" }, all),
      ...values.map((v) => h("option", { value: v }, v)),
    );
    select.value = values.includes(current) ? current : "";
  }

  private makeRow(node: string, component: string, actor: ActorRow): RowView {
    const state = h("td", { class: "c-state" });
    const restarts = h("td", { class: "c-restarts" });
    const event = h("td", { class: "c-event" });
    const when = h("td", { class: "c-when" });
    const link = h(
      "a",
      { href: `#/actor/${encodeURIComponent(actor.address)}` },
      nameOf(actor.address),
    );
    const tr = h(
      "tr",
      { class: "actor", "data-address": actor.address },
      h("td", { class: "c-name" }, link),
      h("td", { class: "c-machine" }, actor.machine),
      state,
      restarts,
      event,
      when,
    );
    tr.addEventListener("click", (e) => {
      if ((e.target as Element).closest("a") === null)
        location.hash = link.getAttribute("href") ?? "";
    });
    const row: RowView = { actor, node, component, tr, state, restarts, event, when, haystack: "" };
    this.rows.set(actor.address, row);
    return row;
  }

  private updateRow(row: RowView, actor: ActorRow, nowMs: number): void {
    row.actor = actor;
    this.showState(row, actor.state, actor.status);
    setText(row.restarts, actor.restarts > 0 ? String(actor.restarts) : "");
    row.tr.classList.toggle("restarted", actor.restarts > 0);
    row.tr.title = actor.lastError ? `last error: ${actor.lastError}` : "";
    const last = actor.lastEvent;
    setText(row.event, last ? `${last.type}${last.from ? `  ← ${last.from}` : ""}` : "");
    setText(row.when, last ? ago(last.atMs, nowMs) : "");
    row.haystack =
      `${actor.address} ${actor.machine} ${formatStateValue(actor.state)} ${last?.type ?? ""}`.toLowerCase();
  }

  private showState(row: RowView, state: unknown, status: string): boolean {
    const text =
      status === "active" ? formatStateValue(state) : `${formatStateValue(state)} (${status})`;
    row.tr.classList.toggle("inactive", status !== "active");
    return setText(row.state, text);
  }

  private updateNodeHead(node: NodeRow): void {
    const card = this.nodeCards.get(node.id);
    const head = card?.querySelector(".node-head");
    if (!card || !head) return;
    card.classList.toggle("down", !node.up);
    card.classList.toggle("up", node.up);
    const raft = node.raft
      ? h(
          "span",
          { class: `role role-${node.raft.role}` },
          `raft ${node.raft.role} · term ${node.raft.term}`,
        )
      : null;
    head.replaceChildren(
      ...present(
        h("h2", {}, node.id),
        h("span", { class: `badge ${node.up ? "ok" : "bad"}` }, node.up ? "up" : "down"),
        raft,
        h("span", { class: "muted" }, `${node.actors.length} actors`),
        node.up ? null : h("span", { class: "node-error" }, node.error ?? "not answering"),
      ),
    );
  }

  private applyBatch(batch: StreamBatch): void {
    for (const record of batch.records) {
      const row = this.rows.get(record.address);
      if (record.kind === "@xstate.actor") {
        if (!row) this.refreshSoon();
        continue;
      }
      if (record.kind !== "@xstate.snapshot" || !row) continue;
      if (this.showState(row, record.state, record.status ?? "active")) {
        // restart the flash animation
        row.tr.classList.remove("flash");
        void row.tr.offsetWidth;
        row.tr.classList.add("flash");
      }
    }
  }

  private refreshSoon(): void {
    if (this.refreshPending) return;
    this.refreshPending = browserClock.after(NEW_ACTOR_REFRESH_MS, () => {
      this.refreshPending = null;
      void this.refresh();
    });
  }

  private setFilter(change: Partial<Filter>): void {
    this.filter = { ...this.filter, ...change };
    this.applyFilter();
  }

  private applyFilter(): void {
    const { text, node, component } = this.filter;
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const row of this.rows.values()) {
      const visible =
        (node === "" || row.node === node) &&
        (component === "" || row.component === component) &&
        (!this.filter.troubled || troubled(row.actor)) &&
        words.every((w) => row.haystack.includes(w));
      row.tr.hidden = !visible;
      if (visible) shown++;
    }
    for (const group of this.groupHeads) group.tr.hidden = group.rows.every((r) => r.tr.hidden);
    for (const [id, card] of this.nodeCards) {
      const any = [...this.rows.values()].some((r) => r.node === id && !r.tr.hidden);
      card.hidden =
        !any && (node !== "" || words.length > 0 || this.filter.troubled || component !== "");
    }
    this.renderSummary(shown);
  }

  private renderSummary(shown: number): void {
    const nodes = [...this.nodes.values()];
    const up = nodes.filter((n) => n.up).length;
    const total = this.rows.size;
    const leader = nodes.find((n) => n.raft?.role === "leader");
    this.summary.replaceChildren(
      ...present(
        h("span", { class: "chip" }, `${up}/${nodes.length} nodes up`),
        h("span", { class: "chip" }, `${total} actors`),
        shown !== total ? h("span", { class: "chip" }, `${shown} shown`) : null,
        leader
          ? h("span", { class: "chip" }, `raft leader ${leader.id} · term ${leader.raft?.term}`)
          : null,
        this.view ? h("span", { class: "muted" }, `served by ${this.view.servedBy}`) : null,
      ),
    );
  }
}
