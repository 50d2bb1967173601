/**
 * Data locality end to end with the real kubectl on a 3-server cluster: a WaitForFirstConsumer
 * claim of the local-path class gets its volume (a directory under the node's data dir) on
 * the node its first pod lands on; a later pod of the same claim lands there too and finds the
 * data; deleting the claim reclaims the directory. A static `local` volume draws its claim's
 * pod to the node that holds it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectlOk } from "../apiserver/kubectl-harness.ts";
import { startWorkloadCluster } from "./workload-harness.ts";

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startWorkloadCluster();
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

const get = (args: string[]) => kubectlOk(cluster, ["get", ...args]);
const apply = (yaml: string) => kubectlOk(cluster, ["apply", "-f", "-"], yaml);

function claimPod(name: string, claim: string, script: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
  volumes: [{name: store, persistentVolumeClaim: {claimName: ${claim}}}]
  containers:
  - name: c
    image: busybox
    command: [sh, -c, '${script}']
    volumeMounts: [{name: store, mountPath: /store}]
`;
}

const running = (name: string) =>
  waitFor(
    `${name} Running`,
    async () => (await get(["pod", name, "-o", "jsonpath={.status.phase}"])) === "Running",
    60_000,
  );

it("WaitForFirstConsumer: the volume is made where the pod lands, and the data stays there", async () => {
  await apply(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-path}
provisioner: bosun.dev/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: local-path
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`);
  // no consumer yet: nothing is provisioned
  expect(await get(["pvc", "data", "-o", "jsonpath={.status.phase}"])).toBe("Pending");
  await apply(
    claimPod("writer", "data", 'echo hello > "$BOSUN_VOLUME_STORE/greeting" && sleep 3600'),
  );
  await running("writer");
  const node = await get(["pod", "writer", "-o", "jsonpath={.spec.nodeName}"]);
  expect(await get(["pvc", "data", "-o", "jsonpath={.status.phase}"])).toBe("Bound");
  const volume = await get(["pvc", "data", "-o", "jsonpath={.spec.volumeName}"]);
  expect(
    await get([
      "pv",
      volume,
      "-o",
      "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}",
    ]),
  ).toBe(node);
  const dir = await get(["pv", volume, "-o", "jsonpath={.spec.local.path}"]);
  expect(dir.startsWith(cluster.runDir)).toBe(true);
  await waitFor("the greeting on disk", () => existsSync(join(dir, "greeting")));
  expect(readFileSync(join(dir, "greeting"), "utf8")).toBe("hello\n");

  await kubectlOk(cluster, ["delete", "pod", "writer", "--wait=true"]);
  await apply(claimPod("reader", "data", 'cat "$BOSUN_VOLUME_STORE/greeting" && sleep 3600'));
  await running("reader");
  expect(await get(["pod", "reader", "-o", "jsonpath={.spec.nodeName}"])).toBe(node);
  await waitFor(
    "the reader to print the data",
    async () => (await kubectlOk(cluster, ["logs", "reader"])).trim() === "hello",
  );

  await kubectlOk(cluster, ["delete", "pod", "reader", "--wait=true"]);
  await kubectlOk(cluster, ["delete", "pvc", "data"]);
  await waitFor(
    "the volume reclaimed: object and directory gone",
    async () =>
      (await get(["pv", volume, "--ignore-not-found", "-o", "name"])) === "" && !existsSync(dir),
    60_000,
  );
}, 180_000);

it("a static local volume draws its claim's pod to the node that holds it", async () => {
  const holder = cluster.cluster.nodes[2]?.id as string;
  const dir = join(cluster.runDir, "static-volume");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "found"), "here\n");
  await apply(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: manual}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: on-holder}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  local: {path: ${dir}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${holder}]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pinned}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`);
  await apply(claimPod("finder", "pinned", 'cat "$BOSUN_VOLUME_STORE/found" && sleep 3600'));
  await running("finder");
  expect(await get(["pod", "finder", "-o", "jsonpath={.spec.nodeName}"])).toBe(holder);
  expect(await get(["pvc", "pinned", "-o", "jsonpath={.status.phase}/{.spec.volumeName}"])).toBe(
    "Bound/on-holder",
  );
  await waitFor(
    "the finder to print the data",
    async () => (await kubectlOk(cluster, ["logs", "finder"])).trim() === "here",
  );
}, 120_000);
