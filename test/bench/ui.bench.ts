/**
 * `npm run bench:ui [-- --actors N] [--minutes N] [--quick] [--json FILE]`: the browser
 * inspector in a real headless Chromium (Debian's, through playwright-core), against a real
 * bosun node in this process whose actor system holds `--actors` synthetic statecharts (a
 * synthetic actor source behind the same HTTP API and streams as any node's):
 *
 * (a) First render of the cluster view: from navigation start to every row drawn (the page's
 *     `bosun:cluster-ready` mark), cold (the node bundles the page on that request) and warm.
 *     Target ≤ 1 s with ≥ 500 actors.
 * (b) State change → DOM: the bench changes one actor's state (an event through the actor
 *     system) and the page records when that row's state cell shows it (a MutationObserver);
 *     both clocks are this machine's wall clock. Target p99 ≤ 100 ms.
 * (c) Page memory under a steady stream for `--minutes` (default 10): a cluster view and an
 *     actor view of a busy actor, 50 state changes a second across the actors; each page's JS
 *     heap (after a forced GC) and DOM size sampled every 10 s. Bounded means the second
 *     half's heap is not above the first half's by more than noise.
 *
 * Figures print as they come; `--json` writes them. The node, the browser and everything else
 * stop in `finally` and on SIGINT/SIGTERM. Targets are reported, not enforced.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import { type Browser, chromium, type Page } from "playwright-core";
import { setup } from "xstate";
import { SystemClock, sleep } from "../../actors/system/clock.ts";
import { NodeProcess } from "../../cmd/node/process.ts";
import { CHROMIUM_PATH } from "../support/chromium.ts";
import { randomLoopbackBase } from "../support/loopback.ts";
import { summarize } from "./stats.ts";

interface Options {
  actors: string;
  minutes: string;
  quick: boolean;
  changes: string;
  json?: string;
}

/** A statechart shaped like a small component's: two states and a toggle. */
const syntheticMachine = setup({
  types: { events: {} as { type: "toggle" } },
}).createMachine({
  id: "synthetic",
  initial: "idle",
  states: { idle: { on: { toggle: "busy" } }, busy: { on: { toggle: "idle" } } },
});

const clock = new SystemClock();

/*
 * In-page code, as strings: it runs in Chromium, not here. The observer notes, per actor row,
 * when its state cell's text changed (the page's own clock: this machine's wall clock).
 */
const OBSERVE_STATE_CELLS = `(() => {
  const seen = {};
  window.__seen = seen;
  new MutationObserver((mutations) => {
    const now = Date.now();
    for (const m of mutations) {
      const el = m.target instanceof Element ? m.target : m.target.parentElement;
      const address = el?.closest("td.c-state")?.parentElement?.getAttribute("data-address");
      if (address) (seen[address] ??= []).push(now);
    }
  }).observe(document.querySelector(".node-list"), { subtree: true, childList: true, characterData: true });
})()`;
/** In the page: when it saw `address` change at or after `sentMs`, or false. */
function seenSince([address, sentMs]: readonly [string, number]): number | false {
  const page = globalThis as unknown as { __seen: Record<string, number[] | undefined> };
  return page.__seen[address]?.find((ms) => ms >= sentMs) ?? false;
}
const SAMPLE_EVERY_MS = 10_000;
const STREAM_CHANGES_PER_S = 50;

async function signedInPage(browser: Browser, base: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${base}/ui/login`);
  await page.fill("input[name=token]", token);
  await Promise.all([page.waitForURL(/\/ui\/$/), page.click("button[type=submit]")]);
  return page;
}

/** From navigation start to the page's ready mark, in ms. */
async function firstRender(page: Page, url: string, actors: number): Promise<number> {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=cluster]", { timeout: 60_000 });
  const rows = await page.locator("tr.actor").count();
  if (rows < actors) throw new Error(`only ${rows} of ${actors} actors drawn`);
  return page.evaluate<number>(
    'performance.getEntriesByName("bosun:cluster-ready")[0]?.startTime ?? NaN',
  );
}

async function heapOf(page: Page): Promise<{ heapMb: number; domNodes: number }> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send("HeapProfiler.collectGarbage");
    const { usedSize } = (await cdp.send("Runtime.getHeapUsage")) as { usedSize: number };
    const domNodes = await page.evaluate<number>('document.getElementsByTagName("*").length');
    return { heapMb: Math.round((usedSize / 2 ** 20) * 10) / 10, domNodes };
  } finally {
    await cdp.detach();
  }
}

async function run(o: Options): Promise<void> {
  const actorCount = Number(o.actors);
  const minutes = o.quick ? 1 : Number(o.minutes);
  const changes = o.quick ? 100 : Number(o.changes);
  const results: Record<string, unknown> = { actors: actorCount, minutes };
  const dataDir = mkdtempSync(join(tmpdir(), "bosun-ui-bench-"));
  const host = randomLoopbackBase(1);
  const token = "bench-token-0123456789abcdef";
  const node = new NodeProcess(
    {
      id: "n1",
      role: "agent",
      servers: [],
      host,
      port: 0,
      peers: {},
      dataDir,
      token,
      faults: false,
    },
    clock,
    pino({ level: "warn" }),
  );
  let browser: Browser | null = null;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await browser?.close().catch(() => undefined);
    await node.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const onSignal = () => void stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const port = await node.start();
    const base = `http://${host}:${port}`;
    node.system.spawn("synthetic", syntheticMachine);
    const addresses: string[] = [];
    for (let i = 0; i < actorCount; i++) {
      const name = `pod:bench/p-${String(i).padStart(4, "0")}`;
      node.system.spawnChild("synthetic", name, syntheticMachine);
      addresses.push(`n1/synthetic/${name}`);
    }
    const total = node.system.status().length;
    console.log(`node n1 at ${base}: ${total} actors (${actorCount} synthetic)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });

    // (a) first render
    const page = await signedInPage(browser, base, token);
    const renders: number[] = [];
    for (let i = 0; i < 6; i++) renders.push(await firstRender(page, `${base}/ui/`, total));
    const warm = summarize(renders.slice(1));
    results.firstRender = {
      coldMs: Math.round(renders[0] ?? 0),
      warmP50Ms: Math.round(warm.p50),
      warmMaxMs: Math.round(warm.max),
    };
    console.log(
      `(a) first render of ${total} actors: cold ${Math.round(renders[0] ?? 0)} ms, warm p50 ${Math.round(warm.p50)} ms, max ${Math.round(warm.max)} ms (target ≤ 1000 ms)`,
    );

    // (b) state change → DOM
    await page.waitForFunction('document.querySelector(".live")?.textContent === "live"');
    await page.evaluate(OBSERVE_STATE_CELLS);
    const latencies: number[] = [];
    for (let i = 0; i < changes; i++) {
      const address = addresses[(i * 7919) % addresses.length] as string;
      const sentMs = clock.wallMs();
      node.system.tell("n1/bench", address, "toggle", null);
      const seenMs = await waitSeen(page, address, sentMs);
      latencies.push(seenMs - sentMs);
    }
    const lat = summarize(latencies);
    results.stateToDom = { n: lat.n, p50Ms: lat.p50, p99Ms: lat.p99, maxMs: lat.max };
    console.log(
      `(b) state change → DOM over ${lat.n} changes: p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms (target p99 ≤ 100 ms)`,
    );

    // (c) memory under a steady stream
    const actorPage = await signedInPage(browser, base, token);
    const busy = addresses[0] as string;
    await actorPage.goto(`${base}/ui/#/actor/${encodeURIComponent(busy)}`);
    await actorPage.waitForSelector("body[data-ready=actor]");
    const samples: { atS: number; cluster: unknown; actor: unknown }[] = [];
    const startMs = clock.nowMs();
    const endMs = startMs + minutes * 60_000;
    let nextSample = startMs;
    let sent = 0;
    while (clock.nowMs() < endMs) {
      if (clock.nowMs() >= nextSample) {
        const sample = {
          atS: Math.round((clock.nowMs() - startMs) / 1000),
          cluster: await heapOf(page),
          actor: await heapOf(actorPage),
        };
        samples.push(sample);
        console.log(
          `(c) t=${sample.atS}s cluster view ${JSON.stringify(sample.cluster)} actor view ${JSON.stringify(sample.actor)}`,
        );
        nextSample += SAMPLE_EVERY_MS;
      }
      // half the changes on the busy actor (its log and history fill up), half spread out
      node.system.tell("n1/bench", busy, "toggle", null);
      node.system.tell(
        "n1/bench",
        addresses[(sent * 7919) % addresses.length] as string,
        "toggle",
        null,
      );
      sent += 2;
      await sleep(clock, 2_000 / STREAM_CHANGES_PER_S);
    }
    const heap = (s: (typeof samples)[number], which: "cluster" | "actor") =>
      (s[which] as { heapMb: number }).heapMb;
    const half = Math.floor(samples.length / 2);
    const bound = (which: "cluster" | "actor") => {
      const first = Math.max(...samples.slice(0, half || 1).map((s) => heap(s, which)));
      const second = Math.max(...samples.slice(half).map((s) => heap(s, which)));
      return { firstHalfMaxMb: first, secondHalfMaxMb: second, bounded: second <= first * 1.1 + 1 };
    };
    results.memory = { changes: sent, samples, cluster: bound("cluster"), actor: bound("actor") };
    console.log(
      `(c) ${sent} changes in ${minutes} min: cluster view heap ${JSON.stringify(bound("cluster"))}, actor view heap ${JSON.stringify(bound("actor"))}`,
    );
  } finally {
    await stop();
    if (o.json) {
      mkdirSync(dirname(o.json), { recursive: true });
      writeFileSync(o.json, `${JSON.stringify(results, null, 2)}\n`);
      console.log(`wrote ${o.json}`);
    }
  }
}

/** When the page saw `address`'s state cell change after `sentMs` (polled from the page). */
async function waitSeen(page: Page, address: string, sentMs: number): Promise<number> {
  const handle = await page.waitForFunction(seenSince, [address, sentMs] as const, {
    timeout: 10_000,
    polling: 5,
  });
  return (await handle.jsonValue()) as number;
}

const program = new Command("bench:ui")
  .option("--actors <n>", "synthetic actors on the node", "500")
  .option("--minutes <n>", "length of the memory run", "10")
  .option("--changes <n>", "state changes timed in (b)", "300")
  .option("--quick", "a 1-minute memory run and 100 timed changes", false)
  .option("--json <file>", "write the figures here")
  .action((o: Options) => run(o));

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`bench:ui failed: ${(error as Error).message}`);
  process.exit(1);
});
