/**
 * What other official Kubernetes clients (the Python client) need from the API server, through
 * its real HTTPS API on a one-server cluster:
 *
 * - booleans and integers in the query as strconv reads them: `watch=True` and `watch=1` are
 *   watches, `watch=false` a list, `watch=maybe` or `limit=ten` a 400;
 * - a patch or update that pinned no resourceVersion applies however many status writes race
 *   it (GuaranteedUpdate): never a 409;
 * - an object of a kind with a status has one from its create on (`status: {}`).
 */
import { describe, expect, it } from "vitest";
import { apiRequest, clusterForTests } from "./kubectl-harness.ts";

const DEPLOY = "/apis/apps/v1/namespaces/default/deployments";
const CM = "/api/v1/namespaces/default/configmaps";
const MERGE = "application/merge-patch+json";

/** A Deployment as the Python client sends it: no status. */
const deployment = (name: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "c", image: "bosun/echo" }] },
    },
  },
});

describe("other clients' spellings and expectations", () => {
  const cluster = clusterForTests(1);

  it("watch=True and watch=1 stream events; watch=false lists; watch=maybe and limit=ten are 400", async () => {
    const made = await apiRequest(cluster(), "POST", CM, { metadata: { name: "spelled" } });
    expect(made.code).toBe(201);
    for (const spelling of ["True", "1", "true", "TRUE", "t"]) {
      const watch = await apiRequest(
        cluster(),
        "GET",
        `${CM}?watch=${spelling}&timeoutSeconds=1&fieldSelector=metadata.name%3Dspelled`,
      );
      expect(watch.code, `watch=${spelling}`).toBe(200);
      const lines = watch.text.split("\n").filter((l) => l !== "");
      expect(
        lines.map((l) => JSON.parse(l).type),
        `watch=${spelling}`,
      ).toEqual(["ADDED"]);
    }
    for (const spelling of ["false", "False", "0"]) {
      const list = await apiRequest(cluster(), "GET", `${CM}?watch=${spelling}`);
      expect(list.code, `watch=${spelling}`).toBe(200);
      expect(JSON.parse(list.text).kind, `watch=${spelling}`).toBe("ConfigMapList");
    }
    const maybe = await apiRequest(cluster(), "GET", `${CM}?watch=maybe`);
    expect(maybe.code).toBe(400);
    expect(JSON.parse(maybe.text).message).toBe(
      'strconv.ParseBool: parsing "maybe": invalid syntax',
    );
    expect((await apiRequest(cluster(), "GET", `${CM}?limit=ten`)).code).toBe(400);
    expect((await apiRequest(cluster(), "GET", `${CM}?allowWatchBookmarks=yes`)).code).toBe(400);
  });

  it("a Deployment created without status answers status: {}, and so do reads", async () => {
    const made = await apiRequest(cluster(), "POST", DEPLOY, deployment("bare"));
    expect(made.code).toBe(201);
    expect(JSON.parse(made.text).status).toEqual({});
    const read = await apiRequest(cluster(), "GET", `${DEPLOY}/bare`);
    expect(JSON.parse(read.text).status).toEqual({});
    // a status in a create body is not the client's to set (PrepareForCreate resets it)
    const withStatus = await apiRequest(cluster(), "POST", DEPLOY, {
      ...deployment("claimed"),
      status: { replicas: 5 },
    });
    expect(JSON.parse(withStatus.text).status).toEqual({});
    const svc = await apiRequest(cluster(), "POST", "/api/v1/namespaces/default/services", {
      metadata: { name: "bare" },
      spec: { ports: [{ port: 80 }] },
    });
    expect(JSON.parse(svc.text).status).toEqual({ loadBalancer: {} });
  });

  it("PATCH of deployments/scale and a PUT without resourceVersion race a stream of status writes and never get 409", async () => {
    const made = await apiRequest(cluster(), "POST", DEPLOY, deployment("raced"));
    expect(made.code).toBe(201);
    const created = JSON.parse(made.text);
    let writing = true;
    let statusWrites = 0;
    // what a Deployment controller does right after a create, as fast as the API takes it
    const statusWriter = (async () => {
      while (writing) {
        const r = await apiRequest(
          cluster(),
          "PATCH",
          `${DEPLOY}/raced/status`,
          { status: { observedGeneration: statusWrites } },
          MERGE,
        );
        expect(r.code).toBe(200);
        statusWrites++;
      }
    })();
    const codes: number[] = [];
    try {
      for (let i = 0; i < 25; i++) {
        const scale = await apiRequest(
          cluster(),
          "PATCH",
          `${DEPLOY}/raced/scale`,
          { spec: { replicas: (i % 3) + 1 } },
          MERGE,
        );
        codes.push(scale.code);
        const { resourceVersion: _pinned, ...meta } = created.metadata;
        const put = await apiRequest(cluster(), "PUT", `${DEPLOY}/raced`, {
          ...created,
          metadata: { ...meta, labels: { round: String(i) } },
        });
        codes.push(put.code);
      }
    } finally {
      writing = false;
      await statusWriter;
    }
    expect(statusWrites).toBeGreaterThan(0);
    expect(codes.filter((c) => c !== 200)).toEqual([]);
    // a stale resourceVersion is still a 409
    const stale = await apiRequest(cluster(), "PUT", `${DEPLOY}/raced`, created);
    expect(stale.code).toBe(409);
  });
});
