/** The resource registry against `kubectl api-resources` and discovery. */
import { describe, expect, it } from "vitest";
import {
  apiVersionOf,
  qualifiedResource,
  RESOURCES,
  resolveResource,
  resourcesInCategory,
} from "../../../actors/api/resources.ts";

describe("api-resources", () => {
  it("lists the served resources with kubectl's short names and scope", () => {
    const rows = RESOURCES.map((r) => [
      r.plural,
      r.shortNames.join(","),
      apiVersionOf(r),
      r.namespaced,
      r.kind,
    ]);
    expect(rows).toEqual([
      ["namespaces", "ns", "v1", false, "Namespace"],
      ["nodes", "no", "v1", false, "Node"],
      ["pods", "po", "v1", true, "Pod"],
      ["services", "svc", "v1", true, "Service"],
      ["endpoints", "ep", "v1", true, "Endpoints"],
      ["configmaps", "cm", "v1", true, "ConfigMap"],
      ["secrets", "", "v1", true, "Secret"],
      ["events", "ev", "v1", true, "Event"],
      ["serviceaccounts", "sa", "v1", true, "ServiceAccount"],
      ["deployments", "deploy", "apps/v1", true, "Deployment"],
      ["replicasets", "rs", "apps/v1", true, "ReplicaSet"],
      ["leases", "", "coordination.k8s.io/v1", true, "Lease"],
      ["endpointslices", "", "discovery.k8s.io/v1", true, "EndpointSlice"],
      ["priorityclasses", "pc", "scheduling.k8s.io/v1", false, "PriorityClass"],
      ["poddisruptionbudgets", "pdb", "policy/v1", true, "PodDisruptionBudget"],
      ["jobs", "", "batch/v1", true, "Job"],
      ["cronjobs", "cj", "batch/v1", true, "CronJob"],
      ["persistentvolumes", "pv", "v1", false, "PersistentVolume"],
      ["persistentvolumeclaims", "pvc", "v1", true, "PersistentVolumeClaim"],
      ["storageclasses", "sc", "storage.k8s.io/v1", false, "StorageClass"],
      ["roles", "", "rbac.authorization.k8s.io/v1", true, "Role"],
      ["clusterroles", "", "rbac.authorization.k8s.io/v1", false, "ClusterRole"],
      ["rolebindings", "", "rbac.authorization.k8s.io/v1", true, "RoleBinding"],
      ["clusterrolebindings", "", "rbac.authorization.k8s.io/v1", false, "ClusterRoleBinding"],
      ["selfsubjectaccessreviews", "", "authorization.k8s.io/v1", false, "SelfSubjectAccessReview"],
      ["subjectaccessreviews", "", "authorization.k8s.io/v1", false, "SubjectAccessReview"],
      ["selfsubjectrulesreviews", "", "authorization.k8s.io/v1", false, "SelfSubjectRulesReview"],
      [
        "localsubjectaccessreviews",
        "",
        "authorization.k8s.io/v1",
        true,
        "LocalSubjectAccessReview",
      ],
      ["horizontalpodautoscalers", "hpa", "autoscaling/v2", true, "HorizontalPodAutoscaler"],
      ["horizontalpodautoscalers", "hpa", "autoscaling/v1", true, "HorizontalPodAutoscaler"],
      ["nodes", "", "metrics.k8s.io/v1beta1", false, "NodeMetrics"],
      ["pods", "", "metrics.k8s.io/v1beta1", true, "PodMetrics"],
    ]);
  });

  it("resolves the names kubectl accepts", () => {
    expect(resolveResource("deploy")?.plural).toBe("deployments");
    expect(resolveResource("Deployment")?.plural).toBe("deployments");
    expect(resolveResource("deployments.apps")?.plural).toBe("deployments");
    expect(resolveResource("po")?.kind).toBe("Pod");
    expect(resolveResource("nope")).toBeUndefined();
    expect(qualifiedResource(resolveResource("rs")!)).toBe("replicasets.apps");
  });

  it("`all` holds pods, services, deployments, replicasets, jobs, cronjobs, horizontalpodautoscalers", () => {
    expect(resourcesInCategory("all").map((r) => r.plural)).toEqual([
      "pods",
      "services",
      "deployments",
      "replicasets",
      "jobs",
      "cronjobs",
      "horizontalpodautoscalers",
    ]);
  });

  it("subresources: status, scale, binding, log", () => {
    const pods = resolveResource("pods")!;
    expect(pods.subresources.map((s) => s.name)).toEqual(["status", "binding", "log", "eviction"]);
    const scale = resolveResource("deployments")!.subresources.find((s) => s.name === "scale")!;
    expect(scale).toMatchObject({
      kind: "Scale",
      group: "autoscaling",
      version: "v1",
      verbs: ["get", "patch", "update"],
    });
    expect(resolveResource("ns")!.verbs).not.toContain("deletecollection");
  });
});
