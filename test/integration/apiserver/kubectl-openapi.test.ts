/**
 * The real kubectl (1.32) with bosun's OpenAPI v3 documents: plain `kubectl apply` (validation
 * left to the server through `fieldValidation`), `kubectl explain`, and `fieldValidation`
 * Strict|Warn|Ignore on create, update and patch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { apiRequest, kubectl, kubectlOk } from "./kubectl-harness.ts";

const APP = `apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: default}
spec:
  containers: [{name: c, image: nginx}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: web
        image: nginx
        env: [{name: COLOR, value: blue}, {name: SIZE, value: small}]
      - name: sidecar
        image: busybox
`;

const CM = (name: string, extra = "") => `apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}, namespace: default}
data: {a: b}
${extra}`;

describe("kubectl with OpenAPI v3", () => {
  let cluster: LocalCluster;

  beforeAll(async () => {
    cluster = await LocalCluster.start(3);
    await waitFor(
      "the default namespace",
      async () => (await kubectl(cluster, ["get", "namespace", "default"])).code === 0,
    );
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it("plain kubectl apply (default validation) creates, then patches a changed list by merge key", async () => {
    expect(await kubectlOk(cluster, ["apply", "-f", "-"], APP)).toMatch(
      /pod\/solo created\s+deployment.apps\/shop created/,
    );
    const changed = APP.replace("value: small", "value: large").replace("busybox", "alpine");
    expect(await kubectlOk(cluster, ["apply", "-f", "-"], changed)).toMatch(/pod\/solo unchanged/);
    const containers = JSON.parse(
      await kubectlOk(cluster, [
        "get",
        "deploy",
        "shop",
        "-o",
        "jsonpath={.spec.template.spec.containers}",
      ]),
    );
    expect(containers.map((c: { image: string }) => c.image)).toEqual(["nginx", "alpine"]);
    expect(containers[0].env).toEqual([
      { name: "COLOR", value: "blue" },
      { name: "SIZE", value: "large" },
    ]);
  });

  it("kubectl explain pod.spec and deployment.spec.template", async () => {
    const pod = await kubectlOk(cluster, ["explain", "pod.spec"]);
    expect(pod).toMatch(/KIND:\s+Pod/);
    expect(pod).toMatch(/containers\s+<\[\]Container>/);
    expect(pod).toMatch(/List of containers belonging to the pod/);
    const template = await kubectlOk(cluster, ["explain", "deployment.spec.template"]);
    expect(template).toMatch(/GROUP:\s+apps/);
    expect(template).toMatch(/FIELD: template <PodTemplateSpec>/);
    expect(template).toMatch(/spec\s+<PodSpec>/);
  });

  it("kubectl apply --validate=strict|warn|false with an unknown field", async () => {
    const bad = CM("strict", "foo: 1\n");
    const strict = await kubectl(cluster, ["apply", "--validate=strict", "-f", "-"], bad);
    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toContain(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"',
    );
    const warn = await kubectl(
      cluster,
      ["apply", "--validate=warn", "-f", "-"],
      CM("warned", "foo: 1\n"),
    );
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain('Warning: unknown field "foo"');
    const stored = JSON.parse(await kubectlOk(cluster, ["get", "cm", "warned", "-o", "json"]));
    expect(stored.foo).toBeUndefined();
    const off = await kubectl(
      cluster,
      ["apply", "--validate=false", "-f", "-"],
      CM("ignored", "foo: 1\n"),
    );
    expect(off.code).toBe(0);
    expect(off.stderr).not.toContain("Warning");
  });

  it("fieldValidation on update (PUT) and patch: Strict 400, Warn header, Ignore silent", async () => {
    await kubectlOk(cluster, ["apply", "-f", "-"], CM("target"));
    const path = "/api/v1/namespaces/default/configmaps/target";
    const current = JSON.parse((await apiRequest(cluster, "GET", path)).text);
    const withFoo = { ...current, data: { a: "c" }, spec: { foo: 1 } };
    const strict = await apiRequest(cluster, "PUT", `${path}?fieldValidation=Strict`, withFoo);
    expect(strict.code).toBe(400);
    expect(JSON.parse(strict.text).message).toContain(
      'strict decoding error: unknown field "spec"',
    );
    const warn = await apiRequest(cluster, "PUT", `${path}?fieldValidation=Warn`, withFoo);
    expect(warn.code).toBe(200);
    expect(String(warn.headers.warning)).toContain('unknown field \\"spec\\"');
    expect(JSON.parse(warn.text).spec).toBeUndefined();

    const merge = "application/merge-patch+json";
    const patch = { data: { a: "d" }, bogus: true };
    const p400 = await apiRequest(cluster, "PATCH", `${path}?fieldValidation=Strict`, patch, merge);
    expect(p400.code).toBe(400);
    expect(JSON.parse(p400.text).message).toContain('unknown field "bogus"');
    const pWarn = await apiRequest(cluster, "PATCH", `${path}?fieldValidation=Warn`, patch, merge);
    expect(pWarn.code).toBe(200);
    expect(String(pWarn.headers.warning)).toContain("bogus");
    const pIgnore = await apiRequest(
      cluster,
      "PATCH",
      `${path}?fieldValidation=Ignore`,
      { data: { a: "e" }, bogus: true },
      merge,
    );
    expect(pIgnore.code).toBe(200);
    expect(pIgnore.headers.warning).toBeUndefined();
    expect(JSON.parse(pIgnore.text)).toMatchObject({ data: { a: "e" } });
    expect(JSON.parse(pIgnore.text).bogus).toBeUndefined();
  });

  it("--dry-run=server on apply and delete writes nothing", async () => {
    await kubectlOk(cluster, ["apply", "-f", "-"], CM("dry"));
    const changed = CM("dry").replace("{a: b}", "{a: z}");
    expect(await kubectlOk(cluster, ["apply", "--dry-run=server", "-f", "-"], changed)).toContain(
      "configmap/dry configured (server dry run)",
    );
    expect(await kubectlOk(cluster, ["delete", "cm", "dry", "--dry-run=server"])).toContain(
      "(server dry run)",
    );
    expect(await kubectlOk(cluster, ["get", "cm", "dry", "-o", "jsonpath={.data.a}"])).toBe("b");
  });

  it("pods/binding assigns a node once; pods/log of a pod on a node without a kubelet is a clear error", async () => {
    await kubectlOk(
      cluster,
      ["apply", "-f", "-"],
      `apiVersion: v1
kind: Pod
metadata: {name: bindme, namespace: default}
spec:
  containers: [{name: c, image: nginx}]
`,
    );
    const path = "/api/v1/namespaces/default/pods/bindme/binding";
    const binding = (node: string) => ({
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: "bindme" },
      target: { apiVersion: "v1", kind: "Node", name: node },
    });
    expect((await apiRequest(cluster, "POST", path, binding("node-a"))).code).toBe(201);
    expect(
      await kubectlOk(cluster, ["get", "pod", "bindme", "-o", "jsonpath={.spec.nodeName}"]),
    ).toBe("node-a");
    const again = await apiRequest(cluster, "POST", path, binding("node-b"));
    expect(again.code).toBe(409);
    expect(JSON.parse(again.text).message).toContain('already assigned to node "node-a"');
    const logs = await kubectl(cluster, ["logs", "bindme"]);
    expect(logs.code).not.toBe(0);
    expect(logs.stderr).toContain("on node node-a"); // no kubelet runs on node-a: a clear error
  });
});
