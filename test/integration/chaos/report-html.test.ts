import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChaosOp } from "../../../cmd/chaos/history.ts";
import { renderHtmlReport } from "../../../cmd/chaos/report-html.ts";
import { buildScenarioReport } from "../../../cmd/chaos/scenario-report.ts";
import type { ScenarioSettings, TimelineSample } from "../../../cmd/chaos/scenario-run.ts";

/**
 * The `--report` page in a real headless Chromium (Debian's, driven by playwright-core; no
 * browser download): it renders offline, draws its charts and lanes, shades the fault window,
 * shows the verdicts, and asks the network for nothing. A screenshot is left in the temp dir
 * while the test runs, for a person to look at. `.ci/run` installs Debian's chromium.
 */
const CHROMIUM = process.env.BOSUN_CHROMIUM ?? "/usr/bin/chromium";

let browser: Browser | null = null;
let dir: string | null = null;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bosun-report-html-"));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const settings: ScenarioSettings = {
  scenario: "partition-leader",
  seed: 7,
  servers: 3,
  durationMs: 6000,
  faultMs: 2000,
  quietMs: 500,
  clients: 2,
  keys: 4,
  requestTimeoutMs: 1000,
  runDir: "/tmp/x",
};

/** Six seconds of a run: writes every 50 ms, none acknowledged while the fault is on. */
function syntheticRun() {
  const ops: ChaosOp[] = [];
  for (let t = 0; t < 6000; t += 50) {
    const faulted = t >= 1000 && t < 2500;
    ops.push({
      op: "put",
      clientId: 1 + ((t / 50) % 2),
      key: "chaos/k000",
      value: `v${t}`,
      callMs: t,
      ...(faulted ? { error: "timeout", failedMs: t + 1000 } : { returnMs: t + 5 + (t % 7) }),
    });
  }
  const timeline: TimelineSample[] = [];
  for (let t = 0; t < 6000; t += 100) {
    const leader = t < 1700 ? "n2" : "n1";
    timeline.push({
      tMs: t,
      raftLeader: leader,
      leases: { "kube-scheduler": t < 2000 ? "n2" : "n3", "kube-controller-manager": "n1" },
    });
  }
  return buildScenarioReport(settings, {
    startMs: 0,
    ops,
    timeline,
    windows: [
      {
        window: 1,
        nemesis: "isolate",
        description: "isolated n2 (raft-leader) from n1, n3",
        targets: ["n2"],
        startMs: 1000,
        healMs: 3000,
        recoveredMs: 3600,
        leaderBefore: "n2",
        leaderAfter: "n1",
        timeToFirstAckedWriteMs: 1500,
        timeToNewLeaderMs: 700,
        leaseTakeoverMs: { "kube-scheduler": 1000 },
      },
    ],
    verdict: {
      linearizability: { linearizable: true },
      lost: [],
      duplicated: [],
      phantom: [],
      revisionMismatch: [],
    },
    storeWrites: [],
    api: {
      configMaps: { written: 40, checked: 10, anomalies: [] },
      pods: { seen: 3, rebound: [] },
      deployment: {
        name: "chaos-web",
        replicas: 3,
        converged: true,
        convergedAfterMs: 1200,
        last: "3 available, 3 running",
        rolls: 2,
        rollAnomalies: [],
      },
      leases: { tenures: 4, overlaps: [], maxOverlapMs: 0 },
    },
  });
}

describe("chaos run HTML report", () => {
  it("renders in headless Chromium: charts, shaded fault window, lanes, verdicts, no network", async () => {
    const report = syntheticRun();
    expect(report.ok).toBe(true);
    const file = join(dir!, "report.html");
    writeFileSync(file, renderHtmlReport(report));
    const page = await browser!.newPage({ viewport: { width: 1000, height: 1000 } });
    const requests: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url());
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    expect(await page.locator("#result").textContent()).toBe("PASS");
    expect(await page.locator("svg").count()).toBe(3);
    // the fault window is shaded in every chart, and the charts have drawn their lines
    expect(await page.locator("rect.fault").count()).toBe(3);
    const box = await page.locator("rect.fault").first().boundingBox();
    expect(box?.width).toBeGreaterThan(10);
    expect(await page.locator("polyline.ops").getAttribute("points")).toMatch(/\d+(\.\d+)?,\d/);
    // lanes: a leader change shows as two colours in the Raft lane
    const fills = await page
      .locator("rect.held")
      .evaluateAll((els) => [...new Set(els.map((e) => e.getAttribute("fill")))]);
    expect(fills.length).toBeGreaterThanOrEqual(3);
    await expect(page.locator("table tbody tr").count()).resolves.toBe(1);
    // with the rolling updates' and the Lease holders' verdicts
    expect(await page.locator("li.pass").count()).toBe(10);
    const verdicts = (await page.locator("li.pass").allTextContents()).join("\n");
    expect(verdicts).toContain("rolling updates under faults: 2");
    expect(verdicts).toContain("two Lease holders at once: 0");
    expect(await page.locator("li.fail").count()).toBe(0);
    const shot = join(dir!, "report.png");
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("a failing run shows FAIL and the failed verdict", async () => {
    const base = syntheticRun();
    const failing = {
      ...base,
      ok: false,
      verdicts: { ...base.verdicts, anomalies: { ...base.verdicts.anomalies, lost: 2 } },
    };
    const file = join(dir!, "failing.html");
    writeFileSync(file, renderHtmlReport(failing));
    const page = await browser!.newPage();
    await page.goto(`file://${file}`);
    expect(await page.locator("#result").textContent()).toBe("FAIL");
    expect(await page.locator("li.fail").textContent()).toContain("acknowledged writes lost: 2");
    await page.close();
  });
});
