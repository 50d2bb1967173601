/**
 * The browser inspector (actors/inspector) on a real 3-server cluster, in a real headless
 * Chromium (Debian's, through playwright-core): the page is behind the cluster token; it lists
 * the actors of all three nodes; the Raft leader's chart has `leader` active; the event log
 * streams; killing the leader shows the election on another node's chart live and the dead node
 * as down. A Secret mounted into a pod leaves no trace in any inspection output.
 *
 * Screenshots are kept (printed path; also BOSUN_ARTIFACTS_DIR) for a person to look at.
 */
import { randomBytes } from "node:crypto";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterView, StreamBatch } from "../../../actors/inspector/ui-protocol.ts";
import type { InspectionPage } from "../../../actors/system/inspection-ring.ts";
import { baseUrl } from "../../../cmd/cluster-file.ts";
import type { NodeStatus } from "../../../cmd/node/introspection.ts";
import { Artifacts, chromiumAvailable, launchChromium } from "../../support/chromium.ts";
import { HttpsApi, readCredentials } from "../../support/https-api.ts";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";

let cluster: LocalCluster;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const artifacts = new Artifacts();

const url = (nodeId: string, path: string) => `${baseUrl(cluster.node(nodeId))}${path}`;
const bearer = () => ({ authorization: `Bearer ${cluster.cluster.token}` });

/** Signs in to `nodeId`'s page through its form (cookies are per host: once per node). */
async function signIn(nodeId: string): Promise<void> {
  await page.goto(url(nodeId, "/ui/"));
  if ((await page.locator("input[name=token]").count()) > 0) {
    await page.fill("input[name=token]", cluster.cluster.token);
    await Promise.all([page.waitForURL(/\/ui\/$/), page.click("button[type=submit]")]);
  }
  await page.waitForSelector("body[data-ready=cluster]");
}

/** Moves the page to another view (a string: the page's `location` is not Node's). */
async function showHash(hash: string): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
}

async function openActor(address: string): Promise<void> {
  await showHash(`#/actor/${encodeURIComponent(address)}`);
  await page.waitForSelector("body[data-ready=actor]");
}

describe.skipIf(!chromiumAvailable())("browser inspector in Chromium", () => {
  beforeAll(async () => {
    console.log(`inspector screenshots: ${artifacts.dir}`);
    cluster = await LocalCluster.start(3, [], true);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await cluster?.stop();
  });

  it("serves nothing without the cluster token (401), and signs in with it", async () => {
    for (const path of ["/ui/", "/ui/app.js", "/ui/api/cluster", "/ui/api/stream"]) {
      const res = await fetch(url("n1", path));
      expect(res.status, path).toBe(401);
      await res.body?.cancel();
    }
    const wrong = await fetch(url("n1", "/ui/api/cluster"), {
      headers: { authorization: "Bearer not-the-token" },
    });
    expect(wrong.status).toBe(401);
    const badLogin = await fetch(url("n1", "/ui/login"), {
      method: "POST",
      body: new URLSearchParams({ token: "guess" }),
      redirect: "manual",
    });
    expect(badLogin.status).toBe(401);
    expect(badLogin.headers.get("set-cookie")).toBeNull();
    const ok = await fetch(url("n1", "/ui/api/cluster"), { headers: bearer() });
    expect(ok.status).toBe(200);

    await signIn("n1");
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "bosun_ui", httpOnly: true, sameSite: "Strict" });
    expect(cookie?.value).not.toContain(cluster.cluster.token);
  });

  it("lists the actors of all three nodes, grouped by node and component", async () => {
    for (const node of ["n1", "n2", "n3"]) {
      await page.waitForSelector(
        `.node-card.up[data-node=${node}] tr.actor[data-address="${node}/raft"]`,
      );
    }
    const count = await page.locator("tr.actor").count();
    expect(count).toBeGreaterThan(30);
    // the kubelet's and controller manager's own statecharts are there too (spawnChild)
    await page.waitForSelector('tr.actor[data-address*="/controller-manager/"]');
    await artifacts.screenshot(page, "1-cluster");
    await page.fill("input.search", "raft");
    await waitFor("the search to narrow the list", async () => {
      const shown = await page.locator("tr.actor:visible").count();
      return shown > 0 && shown < count;
    });
    await artifacts.screenshot(page, "2-cluster-search");
    await page.fill("input.search", "");
  });

  it("draws the Raft leader's statechart with `leader` active, and streams its event log", async () => {
    const leader = await cluster.leader();
    await openActor(`${leader}/raft`);
    await page.waitForSelector('g.state.active[data-state-id="raftRole.role.leader"]');
    await page.waitForSelector('g.state.active[data-state-id="raftRole.clock.ticking"]');
    expect(await page.locator("g.transition").count()).toBeGreaterThan(5);
    // the log moves by itself: heartbeats and ticks keep coming
    const firstSeq = async () =>
      Number(await page.locator("table.events tbody tr").first().getAttribute("data-seq"));
    const before = await firstSeq();
    await waitFor("new rows in the event log", async () => (await firstSeq()) > before);
    await artifacts.screenshot(page, "3-leader-raft");

    // time travel: pause, step back, the selected row and the slider follow
    await page.click("text=Pause");
    const selected = () => page.locator("table.events tr.selected").getAttribute("data-seq");
    const at = Number(await selected());
    await page.click('button[title^="step back"]');
    await waitFor("the selection to step back", async () => Number(await selected()) < at);
    await artifacts.screenshot(page, "4-time-travel");
    await page.click("text=Resume live");
  });

  it("shows no trace of a Secret mounted into a pod in any inspection output", async () => {
    const value = `planted-${randomBytes(12).toString("hex")}`;
    const encoded = Buffer.from(value).toString("base64");
    const api = new HttpsApi(readCredentials(cluster.runDir), 4);
    const ep = api.endpoint(0);
    try {
      const secret = await api.call(ep, "POST", "/api/v1/namespaces/default/secrets", {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "db-credentials" },
        data: { password: encoded },
      });
      expect(secret.code).toBe(201);
      const pod = await api.call(ep, "POST", "/api/v1/namespaces/default/pods", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "secret-user" },
        spec: {
          containers: [
            {
              name: "app",
              image: "bosun/pause",
              volumeMounts: [{ name: "creds", mountPath: "/etc/creds" }],
              env: [{ name: "MODE", value: "test" }],
            },
          ],
          volumes: [{ name: "creds", secret: { secretName: "db-credentials" } }],
        },
      });
      expect(pod.code).toBe(201);
      const running = await waitFor(
        "the pod to run",
        async () => {
          const got = await api.call(ep, "GET", "/api/v1/namespaces/default/pods/secret-user");
          const status = got.body.status as { phase?: string } | undefined;
          const spec = got.body.spec as { nodeName?: string } | undefined;
          return status?.phase === "Running" ? spec?.nodeName : undefined;
        },
        60_000,
      );
      const podActor = `${running}/kubelet/pod:default/secret-user`;
      // the pod's own statechart, a child of its kubelet, is in the inspector
      await openActor(podActor);
      await page.waitForSelector('g.state.active[data-state-id="pod.running"]');
      await artifacts.screenshot(page, "5-pod-lifecycle");

      // live streams while the pod is deleted (its statechart moves through terminating)
      const streams = [`/ui/api/stream?actor=${encodeURIComponent(podActor)}`, "/ui/api/stream"];
      const captured: string[] = [];
      const aborts = streams.map(() => new AbortController());
      const reading = streams.map(async (path, i) => {
        const res = await fetch(url("n1", path), {
          headers: bearer(),
          signal: aborts[i]?.signal,
        });
        const reader = res.body?.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const chunk = await reader?.read().catch(() => undefined);
          if (!chunk || chunk.done) return;
          captured[i] = (captured[i] ?? "") + decoder.decode(chunk.value);
        }
      });
      await waitFor("the pod's stream to open", () => captured[0]?.includes("retry:"));
      const deleted = await api.call(ep, "DELETE", "/api/v1/namespaces/default/pods/secret-user");
      expect(deleted.code).toBeLessThan(300);
      await waitFor("the pod's statechart to stream its termination", () =>
        /terminat|removed/.test(captured[0] ?? ""),
      );
      for (const a of aborts) a.abort();
      await Promise.all(reading);

      // everything inspection shows: every node's ring, status, every chart, the UI's API
      const outputs: string[] = [...captured];
      for (const node of cluster.cluster.nodes) {
        let since = 0;
        for (let i = 0; i < 30; i++) {
          const res = await fetch(url(node.id, `/inspect/events?since=${since}&limit=1000`));
          const text = await res.text();
          outputs.push(text);
          const page = JSON.parse(text) as InspectionPage;
          if (page.records.length === 0) break;
          since = page.nextSeq;
        }
        const statusText = await (await fetch(url(node.id, "/status"))).text();
        outputs.push(statusText);
        for (const actor of (JSON.parse(statusText) as NodeStatus).actors) {
          const q = encodeURIComponent(actor.address);
          outputs.push(await (await fetch(url(node.id, `/inspect/chart?actor=${q}`))).text());
        }
      }
      const view = await (await fetch(url("n1", "/ui/api/cluster"), { headers: bearer() })).text();
      outputs.push(view);
      outputs.push(
        await (
          await fetch(
            url("n1", `/ui/api/events?actor=${encodeURIComponent(`${running}/kubelet`)}`),
            {
              headers: bearer(),
            },
          )
        ).text(),
      );
      const all = outputs.join("\n");
      // the test saw what it meant to look at: the secret's informer and the pod's statechart
      expect(all).toContain("secret-user");
      expect(all).toContain("informer:secrets");
      expect(all).not.toContain(value);
      expect(all).not.toContain(encoded);
      const batches = (captured[1] ?? "")
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => JSON.parse(l.slice(6)) as StreamBatch);
      expect(batches.length).toBeGreaterThan(0);
      expect(JSON.parse(view) as ClusterView).toHaveProperty("nodes.length", 3);
    } finally {
      api.close();
    }
  });

  it("shows a leader kill live on another node's Raft chart, and the dead node as down", async () => {
    const leader = await cluster.leader();
    const watcher = cluster.cluster.nodes.map((n) => n.id).find((id) => id !== leader) as string;
    // the page is served by a node that survives (its own sign-in: cookies are per host)
    await signIn(watcher);
    await openActor(`${watcher}/raft`);
    await page.check("text=state changes only");
    const elections = page.locator("table.events tbody tr.changed", { hasText: /andidate/ });
    const before = await elections.count();
    cluster.kill(leader);
    await waitFor(
      "the election on the watcher's chart",
      async () => (await elections.count()) > before,
    );
    const newLeader = await cluster.leader([leader]);
    const role = newLeader === watcher ? "leader" : "follower";
    await page.waitForSelector(`g.state.active[data-state-id="raftRole.role.${role}"]`);
    await artifacts.screenshot(page, "6-after-leader-kill");

    await showHash("#/");
    await page.waitForSelector(`.node-card.down[data-node=${leader}]`, { timeout: 20_000 });
    await page.waitForSelector(`.node-card.up[data-node=${newLeader}] .role-leader`);
    await artifacts.screenshot(page, "7-cluster-node-down");
  });
});
