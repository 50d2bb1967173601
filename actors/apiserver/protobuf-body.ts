/**
 * Request bodies in Kubernetes' protobuf encoding, for the kinds kubectl's typed clients send
 * that way (`kubectl create namespace|configmap|secret|serviceaccount|deployment|service|job|
 * cronjob|priorityclass|poddisruptionbudget|role|rolebinding|clusterrole|clusterrolebinding …`
 * and `kubectl auth can-i`'s SelfSubjectAccessReview use client-go's clientset, which sends
 * `application/vnd.kubernetes.protobuf` and has no JSON fallback; `kubectl scale` may send a
 * Scale). The envelope is the
 * magic `k8s\0` then a runtime.Unknown {typeMeta=1 {apiVersion=1, kind=2}, raw=2}; field numbers
 * below are those of k8s.io/api's generated.proto. Other kinds, and fields not described here
 * that carry a value, get 415 naming them.
 */
import type { JsonObject, JsonValue } from "../api/json.ts";

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufDecodeError extends Error {}

type Field = { no: number; wire: number; value: bigint | Buffer };

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && shift < 70n; i++) {
    const b = buf[i] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  throw new ProtobufDecodeError("truncated varint");
}

/** The fields of one message, in order (repeated fields appear repeatedly). */
export function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, p2] = readVarint(buf, p1);
      out.push({ no, wire, value: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, p1);
      const end = p2 + Number(len);
      if (end > buf.length) throw new ProtobufDecodeError("truncated field");
      out.push({ no, wire, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(p1, p1 + 8) });
      pos = p1 + 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(p1, p1 + 4) });
      pos = p1 + 4;
    } else throw new ProtobufDecodeError(`unsupported wire type ${wire}`);
  }
  return out;
}

const str = (f: Field) => (f.value as Buffer).toString("utf8");
const bytes = (f: Field) => f.value as Buffer;

/**
 * A message as data: field number → JSON name and type (numbers from k8s.io/api's
 * generated.proto). `pointer` marks Go pointer fields, whose zero value is sent on purpose;
 * zero values of the others are what gogo-protobuf always sends, and JSON omits them.
 * `skip` fields are read and dropped (status on create). `inline` merges an embedded struct.
 */
type Scalar = "string" | "int" | "bool" | "bytes" | "intOrString" | "quantity";
type FieldType = Scalar | Message | { map: Scalar };
interface FieldDesc {
  name: string;
  type: FieldType;
  repeated?: boolean;
  pointer?: boolean;
  skip?: boolean;
  inline?: boolean;
}
interface Message {
  name: string;
  fields: Readonly<Record<number, FieldDesc>>;
}

const fd = (name: string, type: FieldType, opts: Partial<FieldDesc> = {}): FieldDesc => ({
  name,
  type,
  ...opts,
});
const ptr = { pointer: true };
const rep = { repeated: true };
const skip = (name: string): FieldDesc => ({ name, type: "bytes", skip: true });

const OBJECT_META: Message = {
  name: "ObjectMeta",
  fields: {
    1: fd("name", "string"),
    2: fd("generateName", "string"),
    3: fd("namespace", "string"),
    4: fd("selfLink", "string"),
    5: fd("uid", "string"),
    6: fd("resourceVersion", "string"),
    7: fd("generation", "int"),
    8: skip("creationTimestamp"),
    9: skip("deletionTimestamp"),
    10: fd("deletionGracePeriodSeconds", "int", ptr),
    11: fd("labels", { map: "string" }),
    12: fd("annotations", { map: "string" }),
    13: fd(
      "ownerReferences",
      {
        name: "OwnerReference",
        fields: {
          1: fd("kind", "string"),
          3: fd("name", "string"),
          4: fd("uid", "string"),
          5: fd("apiVersion", "string"),
          6: fd("controller", "bool", ptr),
          7: fd("blockOwnerDeletion", "bool", ptr),
        },
      },
      rep,
    ),
    14: fd("finalizers", "string", rep),
    17: skip("managedFields"),
  },
};

const LABEL_SELECTOR: Message = {
  name: "LabelSelector",
  fields: {
    1: fd("matchLabels", { map: "string" }),
    2: fd(
      "matchExpressions",
      {
        name: "LabelSelectorRequirement",
        fields: {
          1: fd("key", "string"),
          2: fd("operator", "string"),
          3: fd("values", "string", rep),
        },
      },
      rep,
    ),
  },
};

const LOCAL_OBJECT_REFERENCE: Message = {
  name: "LocalObjectReference",
  fields: { 1: fd("name", "string") },
};

const CONTAINER: Message = {
  name: "Container",
  fields: {
    1: fd("name", "string"),
    2: fd("image", "string"),
    3: fd("command", "string", rep),
    4: fd("args", "string", rep),
    5: fd("workingDir", "string"),
    6: fd(
      "ports",
      {
        name: "ContainerPort",
        fields: {
          1: fd("name", "string"),
          2: fd("hostPort", "int"),
          3: fd("containerPort", "int"),
          4: fd("protocol", "string"),
          5: fd("hostIP", "string"),
        },
      },
      rep,
    ),
    7: fd(
      "env",
      { name: "EnvVar", fields: { 1: fd("name", "string"), 2: fd("value", "string") } },
      rep,
    ),
    8: fd("resources", {
      name: "ResourceRequirements",
      fields: { 1: fd("limits", { map: "quantity" }), 2: fd("requests", { map: "quantity" }) },
    }),
    13: fd("terminationMessagePath", "string"),
    14: fd("imagePullPolicy", "string"),
    16: fd("stdin", "bool"),
    17: fd("stdinOnce", "bool"),
    18: fd("tty", "bool"),
    20: fd("terminationMessagePolicy", "string"),
    24: fd("restartPolicy", "string", ptr),
  },
};

const POD_SPEC: Message = {
  name: "PodSpec",
  fields: {
    2: fd("containers", CONTAINER, rep),
    3: fd("restartPolicy", "string"),
    4: fd("terminationGracePeriodSeconds", "int", ptr),
    5: fd("activeDeadlineSeconds", "int", ptr),
    6: fd("dnsPolicy", "string"),
    7: fd("nodeSelector", { map: "string" }),
    8: fd("serviceAccountName", "string"),
    9: fd("serviceAccount", "string"),
    10: fd("nodeName", "string"),
    11: fd("hostNetwork", "bool"),
    12: fd("hostPID", "bool"),
    13: fd("hostIPC", "bool"),
    15: fd("imagePullSecrets", LOCAL_OBJECT_REFERENCE, rep),
    16: fd("hostname", "string"),
    17: fd("subdomain", "string"),
    19: fd("schedulerName", "string"),
    20: fd("initContainers", CONTAINER, rep),
    21: fd("automountServiceAccountToken", "bool", ptr),
    24: fd("priorityClassName", "string"),
    25: fd("priority", "int", ptr),
    27: fd("shareProcessNamespace", "bool", ptr),
    29: fd("runtimeClassName", "string", ptr),
    30: fd("enableServiceLinks", "bool", ptr),
    31: fd("preemptionPolicy", "string", ptr),
  },
};

const POD_TEMPLATE_SPEC: Message = {
  name: "PodTemplateSpec",
  fields: { 1: fd("metadata", OBJECT_META), 2: fd("spec", POD_SPEC) },
};

const DEPLOYMENT_SPEC: Message = {
  name: "DeploymentSpec",
  fields: {
    1: fd("replicas", "int", ptr),
    2: fd("selector", LABEL_SELECTOR, ptr),
    3: fd("template", POD_TEMPLATE_SPEC),
    4: fd("strategy", {
      name: "DeploymentStrategy",
      fields: {
        1: fd("type", "string"),
        2: fd(
          "rollingUpdate",
          {
            name: "RollingUpdateDeployment",
            fields: {
              1: fd("maxUnavailable", "intOrString", ptr),
              2: fd("maxSurge", "intOrString", ptr),
            },
          },
          ptr,
        ),
      },
    }),
    5: fd("minReadySeconds", "int"),
    6: fd("revisionHistoryLimit", "int", ptr),
    7: fd("paused", "bool"),
    9: fd("progressDeadlineSeconds", "int", ptr),
  },
};

const REPLICA_SET_SPEC: Message = {
  name: "ReplicaSetSpec",
  fields: {
    1: fd("replicas", "int", ptr),
    2: fd("selector", LABEL_SELECTOR, ptr),
    3: fd("template", POD_TEMPLATE_SPEC),
    4: fd("minReadySeconds", "int"),
  },
};

const SERVICE_SPEC: Message = {
  name: "ServiceSpec",
  fields: {
    1: fd(
      "ports",
      {
        name: "ServicePort",
        fields: {
          1: fd("name", "string"),
          2: fd("protocol", "string"),
          3: fd("port", "int"),
          4: fd("targetPort", "intOrString"),
          5: fd("nodePort", "int"),
          6: fd("appProtocol", "string", ptr),
        },
      },
      rep,
    ),
    2: fd("selector", { map: "string" }),
    3: fd("clusterIP", "string"),
    4: fd("type", "string"),
    5: fd("externalIPs", "string", rep),
    7: fd("sessionAffinity", "string"),
    8: fd("loadBalancerIP", "string"),
    9: fd("loadBalancerSourceRanges", "string", rep),
    10: fd("externalName", "string"),
    11: fd("externalTrafficPolicy", "string"),
    12: fd("healthCheckNodePort", "int"),
    13: fd("publishNotReadyAddresses", "bool"),
    17: fd("ipFamilyPolicy", "string", ptr),
    18: fd("clusterIPs", "string", rep),
    19: fd("ipFamilies", "string", rep),
    20: fd("allocateLoadBalancerNodePorts", "bool", ptr),
    21: fd("loadBalancerClass", "string", ptr),
    22: fd("internalTrafficPolicy", "string", ptr),
  },
};

// k8s.io/api batch/v1
const JOB_SPEC: Message = {
  name: "JobSpec",
  fields: {
    1: fd("parallelism", "int", ptr),
    2: fd("completions", "int", ptr),
    3: fd("activeDeadlineSeconds", "int", ptr),
    4: fd("selector", LABEL_SELECTOR, ptr),
    5: fd("manualSelector", "bool", ptr),
    6: fd("template", POD_TEMPLATE_SPEC),
    7: fd("backoffLimit", "int", ptr),
    8: fd("ttlSecondsAfterFinished", "int", ptr),
    9: fd("completionMode", "string", ptr),
    10: fd("suspend", "bool", ptr),
    14: fd("podReplacementPolicy", "string", ptr),
  },
};

const CRON_JOB_SPEC: Message = {
  name: "CronJobSpec",
  fields: {
    1: fd("schedule", "string"),
    2: fd("startingDeadlineSeconds", "int", ptr),
    3: fd("concurrencyPolicy", "string"),
    4: fd("suspend", "bool", ptr),
    5: fd("jobTemplate", {
      name: "JobTemplateSpec",
      fields: { 1: fd("metadata", OBJECT_META), 2: fd("spec", JOB_SPEC) },
    }),
    6: fd("successfulJobsHistoryLimit", "int", ptr),
    7: fd("failedJobsHistoryLimit", "int", ptr),
    8: fd("timeZone", "string", ptr),
  },
};

// k8s.io/api policy/v1
const POD_DISRUPTION_BUDGET_SPEC: Message = {
  name: "PodDisruptionBudgetSpec",
  fields: {
    1: fd("minAvailable", "intOrString", ptr),
    2: fd("selector", LABEL_SELECTOR, ptr),
    3: fd("maxUnavailable", "intOrString", ptr),
    4: fd("unhealthyPodEvictionPolicy", "string", ptr),
  },
};

const POLICY_RULE: Message = {
  name: "PolicyRule",
  fields: {
    1: fd("verbs", "string", rep),
    2: fd("apiGroups", "string", rep),
    3: fd("resources", "string", rep),
    4: fd("resourceNames", "string", rep),
    5: fd("nonResourceURLs", "string", rep),
  },
};

const SUBJECT: Message = {
  name: "Subject",
  fields: {
    1: fd("kind", "string"),
    2: fd("apiGroup", "string"),
    3: fd("name", "string"),
    4: fd("namespace", "string"),
  },
};

const ROLE_REF: Message = {
  name: "RoleRef",
  fields: { 1: fd("apiGroup", "string"), 2: fd("kind", "string"), 3: fd("name", "string") },
};

const RESOURCE_ATTRIBUTES: Message = {
  name: "ResourceAttributes",
  fields: {
    1: fd("namespace", "string"),
    2: fd("verb", "string"),
    3: fd("group", "string"),
    4: fd("version", "string"),
    5: fd("resource", "string"),
    6: fd("subresource", "string"),
    7: fd("name", "string"),
  },
};

const NON_RESOURCE_ATTRIBUTES: Message = {
  name: "NonResourceAttributes",
  fields: { 1: fd("path", "string"), 2: fd("verb", "string") },
};

const SUBJECT_ACCESS_REVIEW_SPEC: Message = {
  name: "SubjectAccessReviewSpec",
  fields: {
    1: fd("resourceAttributes", RESOURCE_ATTRIBUTES, ptr),
    2: fd("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES, ptr),
    3: fd("user", "string"),
    4: fd("groups", "string", rep),
    6: fd("uid", "string"),
  },
};

const meta = fd("metadata", OBJECT_META);

/** The kinds whose protobuf bodies are decoded; the rest get 415. */
const KINDS: Readonly<Record<string, Message>> = {
  Namespace: {
    name: "Namespace",
    fields: {
      1: meta,
      2: fd("spec", { name: "NamespaceSpec", fields: { 1: fd("finalizers", "string", rep) } }),
      3: skip("status"),
    },
  },
  ConfigMap: {
    name: "ConfigMap",
    fields: {
      1: meta,
      2: fd("data", { map: "string" }),
      3: fd("binaryData", { map: "bytes" }),
      4: fd("immutable", "bool", ptr),
    },
  },
  Secret: {
    name: "Secret",
    fields: {
      1: meta,
      2: fd("data", { map: "bytes" }),
      3: fd("type", "string"),
      4: fd("stringData", { map: "string" }),
      5: fd("immutable", "bool", ptr),
    },
  },
  ServiceAccount: {
    name: "ServiceAccount",
    fields: {
      1: meta,
      2: fd(
        "secrets",
        {
          name: "ObjectReference",
          fields: {
            1: fd("kind", "string"),
            2: fd("namespace", "string"),
            3: fd("name", "string"),
            4: fd("uid", "string"),
            5: fd("apiVersion", "string"),
            6: fd("resourceVersion", "string"),
            7: fd("fieldPath", "string"),
          },
        },
        rep,
      ),
      3: fd("imagePullSecrets", LOCAL_OBJECT_REFERENCE, rep),
      4: fd("automountServiceAccountToken", "bool", ptr),
    },
  },
  Service: { name: "Service", fields: { 1: meta, 2: fd("spec", SERVICE_SPEC), 3: skip("status") } },
  Deployment: {
    name: "Deployment",
    fields: { 1: meta, 2: fd("spec", DEPLOYMENT_SPEC), 3: skip("status") },
  },
  ReplicaSet: {
    name: "ReplicaSet",
    fields: { 1: meta, 2: fd("spec", REPLICA_SET_SPEC), 3: skip("status") },
  },
  Job: { name: "Job", fields: { 1: meta, 2: fd("spec", JOB_SPEC), 3: skip("status") } },
  CronJob: {
    name: "CronJob",
    fields: { 1: meta, 2: fd("spec", CRON_JOB_SPEC), 3: skip("status") },
  },
  PriorityClass: {
    name: "PriorityClass",
    fields: {
      1: meta,
      // value is no pointer in Go, but 0 is a priority like any other: always kept
      2: fd("value", "int", ptr),
      3: fd("globalDefault", "bool"),
      4: fd("description", "string"),
      5: fd("preemptionPolicy", "string", ptr),
    },
  },
  PodDisruptionBudget: {
    name: "PodDisruptionBudget",
    fields: { 1: meta, 2: fd("spec", POD_DISRUPTION_BUDGET_SPEC), 3: skip("status") },
  },
  Role: { name: "Role", fields: { 1: meta, 2: fd("rules", POLICY_RULE, rep) } },
  ClusterRole: {
    name: "ClusterRole",
    fields: {
      1: meta,
      2: fd("rules", POLICY_RULE, rep),
      3: fd(
        "aggregationRule",
        { name: "AggregationRule", fields: { 1: fd("clusterRoleSelectors", LABEL_SELECTOR, rep) } },
        ptr,
      ),
    },
  },
  RoleBinding: {
    name: "RoleBinding",
    fields: { 1: meta, 2: fd("subjects", SUBJECT, rep), 3: fd("roleRef", ROLE_REF) },
  },
  ClusterRoleBinding: {
    name: "ClusterRoleBinding",
    fields: { 1: meta, 2: fd("subjects", SUBJECT, rep), 3: fd("roleRef", ROLE_REF) },
  },
  SelfSubjectAccessReview: {
    name: "SelfSubjectAccessReview",
    fields: {
      1: meta,
      2: fd("spec", {
        name: "SelfSubjectAccessReviewSpec",
        fields: {
          1: fd("resourceAttributes", RESOURCE_ATTRIBUTES, ptr),
          2: fd("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES, ptr),
        },
      }),
      3: skip("status"),
    },
  },
  SubjectAccessReview: {
    name: "SubjectAccessReview",
    fields: { 1: meta, 2: fd("spec", SUBJECT_ACCESS_REVIEW_SPEC), 3: skip("status") },
  },
  SelfSubjectRulesReview: {
    name: "SelfSubjectRulesReview",
    fields: {
      1: meta,
      2: fd("spec", {
        name: "SelfSubjectRulesReviewSpec",
        fields: { 1: fd("namespace", "string") },
      }),
      3: skip("status"),
    },
  },
  LocalSubjectAccessReview: {
    name: "LocalSubjectAccessReview",
    fields: { 1: meta, 2: fd("spec", SUBJECT_ACCESS_REVIEW_SPEC), 3: skip("status") },
  },
  TokenRequest: {
    name: "TokenRequest",
    fields: {
      1: meta,
      2: fd("spec", {
        name: "TokenRequestSpec",
        fields: {
          1: fd("audiences", "string", rep),
          3: fd(
            "boundObjectRef",
            {
              name: "BoundObjectReference",
              fields: {
                1: fd("kind", "string"),
                2: fd("apiVersion", "string"),
                3: fd("name", "string"),
                4: fd("uid", "string"),
              },
            },
            ptr,
          ),
          4: fd("expirationSeconds", "int", ptr),
        },
      }),
      3: skip("status"),
    },
  },
  // autoscaling/v1 (`kubectl autoscale`)
  HorizontalPodAutoscaler: {
    name: "HorizontalPodAutoscaler",
    fields: {
      1: meta,
      2: fd("spec", {
        name: "HorizontalPodAutoscalerSpec",
        fields: {
          1: fd("scaleTargetRef", {
            name: "CrossVersionObjectReference",
            fields: {
              1: fd("kind", "string"),
              2: fd("name", "string"),
              3: fd("apiVersion", "string"),
            },
          }),
          2: fd("minReplicas", "int", ptr),
          3: fd("maxReplicas", "int"),
          4: fd("targetCPUUtilizationPercentage", "int", ptr),
        },
      }),
      3: skip("status"),
    },
  },
  Scale: {
    name: "Scale",
    fields: {
      1: meta,
      // replicas is no pointer in Go, but 0 means "scale to zero", so it is always kept
      2: fd("spec", {
        name: "ScaleSpec",
        fields: { 1: fd("replicas", "int", ptr) },
      }),
      3: skip("status"),
    },
  },
};

/** Whether a field carries only zero values (what gogo-protobuf sends for unset non-pointers). */
function isZero(f: Field, depth = 0): boolean {
  if (f.wire === 0) return f.value === 0n;
  if (f.wire !== 2) return false;
  const b = bytes(f);
  if (b.length === 0) return true;
  if (depth > 8) return false;
  try {
    return readFields(b).every((x) => isZero(x, depth + 1));
  } catch {
    return false;
  }
}

function scalar(type: Scalar, f: Field): JsonValue {
  switch (type) {
    case "string":
      return str(f);
    case "bytes":
      return bytes(f).toString("base64");
    case "int":
      return Number(BigInt.asIntN(64, f.value as bigint));
    case "bool":
      return f.value !== 0n;
    case "quantity": {
      const s = readFields(bytes(f)).find((x) => x.no === 1);
      return s ? str(s) : "0";
    }
    case "intOrString": {
      let kind = 0n;
      let intVal = 0;
      let strVal = "";
      for (const x of readFields(bytes(f))) {
        if (x.no === 1) kind = x.value as bigint;
        else if (x.no === 2) intVal = Number(BigInt.asIntN(64, x.value as bigint));
        else if (x.no === 3) strVal = str(x);
      }
      return kind === 0n ? intVal : strVal;
    }
  }
}

const isZeroJson = (v: JsonValue) => v === "" || v === 0 || v === false;

function decodeMessage(msg: Message, buf: Buffer, path: string): JsonObject {
  const out: JsonObject = {};
  for (const f of readFields(buf)) {
    const desc = msg.fields[f.no];
    if (desc === undefined) {
      if (isZero(f)) continue;
      throw new ProtobufDecodeError(
        `protobuf field ${f.no} of ${msg.name} (${path || "the object"}) is not supported`,
      );
    }
    if (desc.skip) continue;
    const at = path === "" ? desc.name : `${path}.${desc.name}`;
    const { type } = desc;
    let value: JsonValue;
    if (typeof type === "string") value = scalar(type, f);
    else if ("map" in type) {
      let k = "";
      let v: JsonValue = type.map === "string" ? "" : null;
      for (const e of readFields(bytes(f))) {
        if (e.no === 1) k = str(e);
        if (e.no === 2) v = scalar(type.map, e);
      }
      const m = (out[desc.name] ?? {}) as JsonObject;
      m[k] = v;
      out[desc.name] = m;
      continue;
    } else value = decodeMessage(type, bytes(f), at);
    if (desc.repeated) {
      const list = (out[desc.name] ?? []) as JsonValue[];
      list.push(value);
      out[desc.name] = list;
    } else if (desc.pointer || !isZeroJson(value)) out[desc.name] = value;
  }
  return out;
}

function decodeKind(kind: string, raw: Buffer): JsonObject {
  const msg = KINDS[kind];
  if (msg === undefined)
    throw new ProtobufDecodeError(`protobuf bodies of kind ${kind} are not supported`);
  const obj = decodeMessage(msg, raw, "");
  if (obj.metadata === undefined) obj.metadata = {};
  return obj;
}

/** Decodes a `k8s\0`-framed protobuf body into the JSON object it stands for. */
export function decodeProtobufBody(body: Buffer): JsonObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(PROTOBUF_MAGIC))
    throw new ProtobufDecodeError("protobuf body without the k8s envelope");
  let apiVersion = "";
  let kind = "";
  let raw: Buffer = Buffer.alloc(0);
  for (const f of readFields(body.subarray(4))) {
    if (f.no === 1) {
      for (const t of readFields(bytes(f))) {
        if (t.no === 1) apiVersion = str(t);
        if (t.no === 2) kind = str(t);
      }
    } else if (f.no === 2) raw = bytes(f);
  }
  return { apiVersion, kind, ...decodeKind(kind, raw) };
}
