/**
 * The audit log as a cluster operator meets it (issue 18, item 6): `bosun up --audit-policy-file
 * --audit-log-path --audit-log-maxsize --audit-log-maxbackup`, the real kubectl over HTTPS, and
 * the JSON lines of `audit.k8s.io/v1` Events in each node's own file — levels per the policy,
 * a watch's ResponseStarted and ResponseComplete, no Secret value at level Metadata, and the file
 * rotated by size with only the newest backups kept.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { apiRequest, kubectl, kubectlOk, spawnKubectl } from "./kubectl-harness.ts";

const POLICY = `
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
- level: Metadata
  resources: [{group: "", resources: ["secrets"]}]
- level: RequestResponse
  resources: [{group: "", resources: ["configmaps"]}]
- level: Metadata
  omitStages: [RequestReceived]
`;

interface Event {
  level: string;
  auditID: string;
  stage: string;
  requestURI: string;
  verb: string;
  user: { username: string; groups: string[] };
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: { resource: string; namespace?: string; name?: string };
  responseStatus?: { code: number };
  requestObject?: { metadata?: { name?: string }; data?: Record<string, string> };
  responseObject?: { metadata?: { name?: string } };
}

describe("audit log through bosun up and kubectl", () => {
  let dir: string;
  let cluster: LocalCluster;
  let logPath: string;

  const events = (): Event[] =>
    readFileSync(logPath, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Event);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bosun-audit-e2e-"));
    writeFileSync(join(dir, "policy.yaml"), POLICY);
    cluster = await LocalCluster.start(1, [
      "--audit-policy-file",
      join(dir, "policy.yaml"),
      "--audit-log-path",
      join(dir, "audit.log"),
      "--audit-log-maxsize",
      "1",
      "--audit-log-maxbackup",
      "2",
    ]);
    logPath = join(dir, "audit-n1.log");
    await waitFor(
      "the default namespace",
      async () => (await kubectl(cluster, ["get", "namespace", "default"])).code === 0,
    );
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records kubectl's create at RequestResponse with both stages, and its discovery at Metadata", async () => {
    await kubectlOk(cluster, ["create", "configmap", "cm1", "--from-literal=k=v"]);
    await waitFor("the create's ResponseComplete", () =>
      events().some((e) => e.verb === "create" && e.stage === "ResponseComplete"),
    );
    const create = events().filter(
      (e) => e.verb === "create" && e.objectRef?.resource === "configmaps",
    );
    expect(create.map((e) => e.stage)).toEqual(["RequestReceived", "ResponseComplete"]);
    expect(create[0]?.auditID).toBe(create[1]?.auditID);
    expect(create[1]).toMatchObject({
      level: "RequestResponse",
      requestURI: expect.stringMatching(/^\/api\/v1\/namespaces\/default\/configmaps/),
      user: { username: "kubernetes-admin" },
      userAgent: expect.stringMatching(/^kubectl/),
      objectRef: { resource: "configmaps", namespace: "default" },
      responseStatus: { code: 201 },
      requestObject: { metadata: { name: "cm1" }, data: { k: "v" } },
      responseObject: { metadata: { name: "cm1" } },
    });
    expect(create[1]?.sourceIPs.length).toBeGreaterThan(0);
    const discovery = events().filter((e) => e.requestURI.startsWith("/api") && !e.objectRef);
    expect(discovery.length).toBeGreaterThan(0);
    for (const e of discovery) {
      expect(e.level).toBe("Metadata");
      expect(e.stage).toBe("ResponseComplete");
    }
    // the health checks are at level None
    expect(events().some((e) => e.requestURI.startsWith("/healthz"))).toBe(false);
  });

  it("keeps a Secret's value out of the log at level Metadata", async () => {
    await kubectlOk(cluster, [
      "create",
      "secret",
      "generic",
      "s1",
      "--from-literal=password=hunter2",
    ]);
    await waitFor("the secret's event", () =>
      events().some((e) => e.objectRef?.resource === "secrets" && e.stage === "ResponseComplete"),
    );
    const text = readFileSync(logPath, "utf8");
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain(Buffer.from("hunter2").toString("base64"));
    const secret = events().find((e) => e.objectRef?.resource === "secrets");
    expect(secret).toMatchObject({ level: "Metadata", verb: "create" });
    expect(secret).not.toHaveProperty("requestObject");
  });

  it("a watch (kubectl get -w) has ResponseStarted when it opens and ResponseComplete when it ends", async () => {
    const watch = spawnKubectl(cluster, ["get", "configmaps", "-w", "--output-watch-events"]);
    try {
      await waitFor("the watch's ResponseStarted", () =>
        events().some((e) => e.verb === "watch" && e.stage === "ResponseStarted"),
      );
      await kubectlOk(cluster, ["create", "configmap", "cm2"]);
      await waitFor("cm2 through the watch", () => watch.output().includes("cm2"));
    } finally {
      watch.child.kill("SIGTERM");
    }
    await waitFor("the watch's ResponseComplete", () =>
      events().some((e) => e.verb === "watch" && e.stage === "ResponseComplete"),
    );
    const started = events().find((e) => e.verb === "watch" && e.stage === "ResponseStarted");
    const completed = events().find(
      (e) => e.auditID === started?.auditID && e.stage === "ResponseComplete",
    );
    expect(started).toMatchObject({
      responseStatus: { code: 200 },
      objectRef: { resource: "configmaps" },
    });
    expect(completed).toBeDefined();
    // no response body is recorded for a long-running request, even at RequestResponse
    expect(completed).not.toHaveProperty("responseObject");
  });

  it("rotates the file at --audit-log-maxsize and keeps --audit-log-maxbackup backups", async () => {
    const data = { blob: "x".repeat(100 * 1024) };
    // each create logs ~200 KiB (request and response at RequestResponse): ~5 MiB in all
    for (let i = 0; i < 25; i++) {
      const r = await apiRequest(cluster, "POST", "/api/v1/namespaces/default/configmaps", {
        metadata: { name: `big-${i}` },
        data,
      });
      expect(r.code).toBe(201);
    }
    await waitFor("the last big create in the log", () =>
      events().some(
        (e) => e.requestObject?.metadata?.name === "big-24" && e.stage === "ResponseComplete",
      ),
    );
    const backups = readdirSync(dir).filter((f) => /^audit-n1-.+\.log$/.test(f));
    expect(backups).toHaveLength(2);
    for (const f of [...backups, "audit-n1.log"])
      expect(readFileSync(join(dir, f)).length).toBeLessThanOrEqual(1024 * 1024);
  });
});
