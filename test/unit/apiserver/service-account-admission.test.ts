/**
 * The ServiceAccount admission plugin on pod create: the pod runs as `default` unless it names
 * another; with its ServiceAccount present it gets the projected token volume in every container;
 * with automount off, or no such ServiceAccount (a cluster without the controller that makes
 * `default`), it gets none and can still start.
 */
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../../actors/api/json.ts";
import {
  admitServiceAccount,
  SERVICE_ACCOUNT_MOUNT_PATH,
} from "../../../actors/apiserver/auth/service-account-admission.ts";

const pod = (spec: JsonObject = {}): JsonObject => ({
  metadata: { name: "web", namespace: "shop" },
  spec: { containers: [{ name: "c", image: "busybox" }], ...spec },
});
const specOf = (o: JsonObject) => o.spec as JsonObject;
const mountsOf = (o: JsonObject) =>
  ((specOf(o).containers as JsonObject[])[0]?.volumeMounts ?? []) as JsonObject[];
const sa = (extra: JsonObject = {}): JsonObject => ({ metadata: { name: "default" }, ...extra });

describe("ServiceAccount admission", () => {
  it("a pod of an existing ServiceAccount gets the projected token volume", () => {
    const admitted = admitServiceAccount(pod(), sa(), "abcde");
    expect(specOf(admitted).serviceAccountName).toBe("default");
    expect(mountsOf(admitted)).toEqual([
      { name: "kube-api-access-abcde", readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH },
    ]);
    expect((specOf(admitted).volumes as JsonObject[]).map((v) => v.name)).toEqual([
      "kube-api-access-abcde",
    ]);
  });

  it("no volume when automount is off, on the pod or its ServiceAccount, or the ServiceAccount does not exist", () => {
    for (const admitted of [
      admitServiceAccount(pod({ automountServiceAccountToken: false }), sa(), "x"),
      admitServiceAccount(pod(), sa({ automountServiceAccountToken: false }), "x"),
      admitServiceAccount(pod({ serviceAccountName: "robot" }), null, "x"),
    ]) {
      expect(mountsOf(admitted)).toEqual([]);
      expect(specOf(admitted).volumes).toBeUndefined();
    }
    expect(
      specOf(admitServiceAccount(pod({ serviceAccountName: "robot" }), null, "x")),
    ).toMatchObject({ serviceAccountName: "robot", serviceAccount: "robot" });
  });
});
