/**
 * `--report FILE.html`: the run's report as one self-contained page — inline SVG and CSS, no
 * script and nothing fetched — so it opens from a CI artifact or a mail attachment alike.
 * Every chart shares the run's time axis with the fault windows shaded (red while the fault is
 * on, amber until the cluster had recovered): throughput, latency, and lanes showing which
 * member led Raft and held each Lease. Pure: the report in, the page out.
 */
import type { ScenarioReport } from "./scenario-report.ts";
import { type TimelineSample, TRACKED_LEASES } from "./scenario-run.ts";

const WIDTH = 960;
const LEFT = 200;
const RIGHT = 20;
const PLOT = WIDTH - LEFT - RIGHT;
/** A member's colour in the lanes, by its index among the members seen. */
const PALETTE = ["#4e79a7", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#edc948", "#9c755f"];

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

interface Axis {
  x(ms: number): number;
  endMs: number;
}

function axisOf(r: ScenarioReport): Axis {
  const lastSample = r.timeline.at(-1)?.tMs ?? 0;
  const lastSecond = (r.perSecond.at(-1)?.second ?? 0) * 1000 + 1000;
  const lastWindow = Math.max(0, ...r.windows.map((w) => w.recoveredMs ?? w.healMs ?? w.startMs));
  const endMs = Math.max(1000, lastSample, lastSecond, lastWindow);
  return { endMs, x: (ms) => LEFT + (Math.max(0, Math.min(ms, endMs)) / endMs) * PLOT };
}

function faultShading(r: ScenarioReport, a: Axis, top: number, height: number): string {
  return r.windows
    .map((w) => {
      const heal = w.healMs ?? a.endMs;
      const rec = w.recoveredMs ?? heal;
      const title = escapeHtml(`window ${w.window}: ${w.description || w.nemesis}`);
      return (
        `<rect class="fault" x="${a.x(w.startMs).toFixed(1)}" y="${top}" width="${(a.x(heal) - a.x(w.startMs)).toFixed(1)}" height="${height}"><title>${title}</title></rect>` +
        `<rect class="recovering" x="${a.x(heal).toFixed(1)}" y="${top}" width="${(a.x(rec) - a.x(heal)).toFixed(1)}" height="${height}"><title>${title}: recovering</title></rect>`
      );
    })
    .join("");
}

function timeTicks(a: Axis, top: number, height: number): string {
  const stepS = Math.max(1, Math.ceil(a.endMs / 1000 / 12));
  const out: string[] = [];
  for (let s = 0; s * 1000 <= a.endMs; s += stepS) {
    const x = a.x(s * 1000).toFixed(1);
    out.push(
      `<line class="grid" x1="${x}" x2="${x}" y1="${top}" y2="${top + height}"/>` +
        `<text class="tick" x="${x}" y="${top + height + 14}" text-anchor="middle">${s}s</text>`,
    );
  }
  return out.join("");
}

/** A line chart of per-second values on the shared axis. */
function seriesChart(
  r: ScenarioReport,
  a: Axis,
  title: string,
  unit: string,
  series: { name: string; cls: string; values: (number | null)[] }[],
): string {
  const height = 140;
  const top = 10;
  const max = Math.max(
    1,
    ...series.flatMap((s) => s.values.filter((v): v is number => v !== null)),
  );
  const y = (v: number) => top + height - (v / max) * height;
  const paths = series
    .map((s) => {
      const points = s.values
        .map((v, i) => (v === null ? null : `${a.x(i * 1000 + 500).toFixed(1)},${y(v).toFixed(1)}`))
        .filter((p): p is string => p !== null);
      return `<polyline class="${s.cls}" points="${points.join(" ")}"><title>${escapeHtml(s.name)}</title></polyline>`;
    })
    .join("");
  const legend = series
    .map(
      (s, i) =>
        `<text class="legend ${s.cls}-text" x="${LEFT + 8 + i * 120}" y="${top + 12}">${escapeHtml(s.name)}</text>`,
    )
    .join("");
  return (
    `<h2>${escapeHtml(title)}</h2><svg role="img" aria-label="${escapeHtml(title)}" width="${WIDTH}" height="${height + 34}">` +
    faultShading(r, a, top, height) +
    timeTicks(a, top, height) +
    `<text class="tick" x="${LEFT - 6}" y="${top + 4}" text-anchor="end">${max.toFixed(0)} ${unit}</text>` +
    `<text class="tick" x="${LEFT - 6}" y="${top + height}" text-anchor="end">0</text>` +
    paths +
    legend +
    "</svg>"
  );
}

/** Lanes: for each role, segments coloured by the member holding it between samples. */
function holderLanes(r: ScenarioReport, a: Axis): string {
  const lanes: { name: string; of: (s: TimelineSample) => string | null | undefined }[] = [
    { name: "Raft leader", of: (s) => s.raftLeader },
    ...TRACKED_LEASES.map((lease) => ({
      name: `${lease} Lease`,
      of: (s: TimelineSample) => s.leases[lease],
    })),
  ];
  const members = [
    ...new Set(
      r.timeline.flatMap((s) => lanes.map((l) => l.of(s)).filter((m): m is string => !!m)),
    ),
  ].sort();
  const colour = (m: string) => PALETTE[members.indexOf(m) % PALETTE.length]!;
  const laneHeight = 26;
  const top = 6;
  const height = lanes.length * laneHeight;
  const rows = lanes
    .map((lane, i) => {
      const y = top + i * laneHeight;
      const segments: string[] = [];
      for (let k = 0; k < r.timeline.length; k++) {
        const s = r.timeline[k]!;
        const holder = lane.of(s);
        if (!holder) continue;
        const end = r.timeline[k + 1]?.tMs ?? s.tMs;
        const x0 = a.x(s.tMs);
        segments.push(
          `<rect class="held" x="${x0.toFixed(1)}" y="${y + 4}" width="${Math.max(0.5, a.x(end) - x0).toFixed(1)}" height="${laneHeight - 8}" fill="${colour(holder)}"><title>${escapeHtml(`${lane.name}: ${holder}`)}</title></rect>`,
        );
      }
      return `<text class="lane" x="${LEFT - 6}" y="${y + laneHeight / 2 + 4}" text-anchor="end">${escapeHtml(lane.name)}</text>${segments.join("")}`;
    })
    .join("");
  const legend = members
    .map(
      (m, i) =>
        `<rect x="${LEFT + i * 70}" y="${top + height + 20}" width="12" height="12" fill="${colour(m)}"/><text class="legend" x="${LEFT + 16 + i * 70}" y="${top + height + 30}">${escapeHtml(m)}</text>`,
    )
    .join("");
  return (
    `<h2>Who leads</h2><svg role="img" aria-label="who leads" width="${WIDTH}" height="${height + 44}">` +
    faultShading(r, a, top, height) +
    timeTicks(a, top, height) +
    rows +
    legend +
    "</svg>"
  );
}

const ms = (x: number | null | undefined) => (x == null ? "—" : `${x.toFixed(0)} ms`);

function windowsTable(r: ScenarioReport): string {
  const rows = r.windows
    .map((w) => {
      const leases = Object.entries(w.leaseTakeoverMs)
        .map(([l, x]) => `${l}: ${ms(x)}`)
        .join(", ");
      return (
        `<tr class="${w.error ? "bad" : ""}"><td>${w.window}</td><td>${(w.startMs / 1000).toFixed(1)} s</td>` +
        `<td>${escapeHtml(w.description || w.nemesis)}</td><td>${escapeHtml(w.leaderBefore ?? "—")} → ${escapeHtml(w.leaderAfter ?? "—")}</td>` +
        `<td>${ms(w.timeToNewLeaderMs)}</td><td>${ms(w.timeToFirstAckedWriteMs)}</td>` +
        `<td>${ms(w.recoveredMs === null ? null : w.recoveredMs - w.startMs)}</td><td>${escapeHtml(leases || "—")}</td>` +
        `<td>${escapeHtml(w.error ?? "")}</td></tr>`
      );
    })
    .join("");
  return (
    "<h2>Fault windows</h2><table><thead><tr><th>#</th><th>at</th><th>fault</th><th>Raft leader</th>" +
    "<th>new leader after</th><th>first acked write after</th><th>recovered after</th>" +
    `<th>Lease takeover</th><th>error</th></tr></thead><tbody>${rows}</tbody></table>`
  );
}

function verdicts(r: ScenarioReport): string {
  const v = r.verdicts;
  const item = (ok: boolean, text: string) =>
    `<li class="${ok ? "pass" : "fail"}">${ok ? "✔" : "✘"} ${escapeHtml(text)}</li>`;
  return (
    `<h2>Verdicts</h2><ul class="verdicts">` +
    item(
      v.linearizable === true,
      `linearizable: ${v.linearizable === true ? "yes" : v.linearizable === false ? `no (key ${v.failingKey})` : "unknown"}`,
    ) +
    item(v.anomalies.lost === 0, `acknowledged writes lost: ${v.anomalies.lost}`) +
    item(v.anomalies.duplicated === 0, `writes applied twice: ${v.anomalies.duplicated}`) +
    item(
      v.anomalies.phantom + v.anomalies.revisionMismatch === 0,
      `phantom writes: ${v.anomalies.phantom}, revision mismatches: ${v.anomalies.revisionMismatch}`,
    ) +
    item(v.recovered, `recovered after every fault window: ${v.recovered ? "yes" : "no"}`) +
    (v.api === null
      ? ""
      : item(
          v.api.configMaps.anomalies.length === 0 && v.api.error === undefined,
          `acknowledged API writes reflected: ${v.api.configMaps.checked - v.api.configMaps.anomalies.length} of ${v.api.configMaps.checked} objects`,
        ) +
        item(
          v.api.pods.rebound.length === 0,
          `pods bound to two nodes: ${v.api.pods.rebound.length} of ${v.api.pods.seen}`,
        ) +
        item(
          v.api.deployment.converged,
          `Deployment ${v.api.deployment.name} converged after healing: ${v.api.deployment.converged ? `yes, in ${ms(v.api.deployment.convergedAfterMs)}` : `no (${v.api.deployment.last})`}`,
        ) +
        item(
          v.api.deployment.rollAnomalies.length === 0,
          `rolling updates under faults: ${v.api.deployment.rolls}, not reflected: ${v.api.deployment.rollAnomalies.length}`,
        ) +
        (v.api.leases === undefined
          ? ""
          : item(
              v.api.leases.overlaps.length === 0,
              `two Lease holders at once: ${v.api.leases.overlaps.length} (longest ${ms(v.api.leases.maxOverlapMs)})`,
            ))) +
    (r.error ? item(false, `error: ${r.error}`) : "") +
    "</ul>" +
    (v.explanation ? `<pre>${escapeHtml(v.explanation)}</pre>` : "")
  );
}

const STYLE = `
body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:${WIDTH + 40}px}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 6px}
.summary{color:#555} .badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:600}
.badge.pass{background:#2e7d32} .badge.fail{background:#c62828}
rect.fault{fill:#e53935;fill-opacity:.18} rect.recovering{fill:#fb8c00;fill-opacity:.14}
line.grid{stroke:#ddd} text.tick,text.lane,text.legend{font-size:11px;fill:#555}
polyline{fill:none;stroke-width:1.6} .ops{stroke:#1565c0} .p50{stroke:#2e7d32} .p99{stroke:#c62828} .failed{stroke:#999;stroke-dasharray:3 2}
.ops-text{fill:#1565c0} .p50-text{fill:#2e7d32} .p99-text{fill:#c62828} .failed-text{fill:#777}
table{border-collapse:collapse;font-size:12px} td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}
tr.bad td{background:#fdecea} ul.verdicts{list-style:none;padding:0} li.pass{color:#2e7d32} li.fail{color:#c62828;font-weight:600}
.key span{display:inline-block;width:14px;height:10px;margin:0 4px 0 12px}
`;

export function renderHtmlReport(r: ScenarioReport): string {
  const a = axisOf(r);
  const s = r.settings;
  const t = r.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bosun chaos run ${escapeHtml(s.scenario)} (seed ${s.seed})</title>
<style>${STYLE}</style></head><body>
<h1>bosun chaos run: ${escapeHtml(s.scenario)} <span class="badge ${r.ok ? "pass" : "fail"}" id="result">${r.ok ? "PASS" : "FAIL"}</span></h1>
<p class="summary">seed ${s.seed} · ${s.servers} servers · ${(s.durationMs / 1000).toFixed(0)} s · faults of ${s.faultMs} ms, ${s.quietMs} ms quiet ·
${s.clients} clients on ${s.keys} keys · ${t.ops} ops (${t.opsPerSecond.toFixed(0)} acked/s), ${t.pending} with unknown outcome</p>
<p class="key">shading:<span style="background:#e53935;opacity:.4"></span>fault on<span style="background:#fb8c00;opacity:.4"></span>healed, recovering</p>
${seriesChart(r, a, "Throughput (acknowledged operations per second)", "ops/s", [
  { name: "acked ops/s", cls: "ops", values: r.perSecond.map((p) => p.ackedOps) },
  { name: "unknown outcome/s", cls: "failed", values: r.perSecond.map((p) => p.failed) },
])}
${seriesChart(r, a, "Latency of acknowledged operations", "ms", [
  { name: "p50", cls: "p50", values: r.perSecond.map((p) => p.p50LatencyMs) },
  { name: "p99", cls: "p99", values: r.perSecond.map((p) => p.p99LatencyMs) },
])}
${holderLanes(r, a)}
${windowsTable(r)}
${verdicts(r)}
</body></html>
`;
}
