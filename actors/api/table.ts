/**
 * `meta.k8s.io/v1` Table output for kubectl (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`):
 * the column definitions and cell values of k8s.io/kubernetes
 * `pkg/printers/internalversion/printers.go` for each built-in resource. Columns with
 * `priority: 1` are shown only by `-o wide`. kubectl upper-cases the names.
 */
import { humanDuration, timestampSince } from "./human-duration.ts";
import {
  asArray,
  asObject,
  asString,
  isJsonObject,
  type JsonObject,
  type JsonValue,
} from "./json.ts";
import {
  formatLabelSelectorObject,
  formatLabels,
  type LabelSelectorObject,
} from "./label-selector.ts";

export interface TableColumnDefinition {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  format: string;
  description: string;
  priority: number;
}

export type TableCell = string | number | boolean;

export interface TableRow {
  cells: TableCell[];
  conditions?: Array<{ type: string; status: string }>;
  /** PartialObjectMetadata or the full object per `includeObject`; null for None. */
  object: JsonObject | null;
}

export interface Table {
  kind: "Table";
  apiVersion: "meta.k8s.io/v1";
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

/** `includeObject`: None drops it, Metadata keeps PartialObjectMetadata (kubectl's default), Object all. */
export type IncludeObject = "None" | "Metadata" | "Object";

const col = (
  name: string,
  type: TableColumnDefinition["type"],
  description: string,
  priority = 0,
  format = "",
): TableColumnDefinition => ({ name, type, format, description, priority });

const NAME = col("Name", "string", "Name must be unique within a namespace.", 0, "name");
const AGE = col(
  "Age",
  "string",
  "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

type Printer = {
  columns: TableColumnDefinition[];
  cells: (obj: JsonObject, nowMs: number) => TableCell[];
};

const meta = (o: JsonObject) => asObject(o.metadata);
const age = (o: JsonObject, nowMs: number) =>
  timestampSince(asString(meta(o).creationTimestamp), nowMs);
const num = (v: JsonValue | undefined) => (typeof v === "number" ? v : 0);
const orNone = (s: string) => (s === "" ? "<none>" : s);

// ---------------------------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------------------------

function isRestartableInit(spec: JsonObject, name: string): boolean {
  return asArray(spec.initContainers).some(
    (c) => isJsonObject(c) && c.name === name && c.restartPolicy === "Always",
  );
}

function hasPodReadyCondition(status: JsonObject): boolean {
  return asArray(status.conditions).some(
    (c) => isJsonObject(c) && c.type === "Ready" && c.status === "True",
  );
}

function isPodInitialized(status: JsonObject): boolean {
  return asArray(status.conditions).some(
    (c) => isJsonObject(c) && c.type === "Initialized" && c.status === "True",
  );
}

/** `printPod`: READY, STATUS reason, RESTARTS with "(Xm ago)", following the printer's order of checks. */
export function podStatusCells(
  pod: JsonObject,
  nowMs: number,
): { ready: string; status: string; restarts: string } {
  const spec = asObject(pod.spec);
  const status = asObject(pod.status);
  let restarts = 0;
  let restartableInitRestarts = 0;
  let lastRestartMs = 0;
  let readyContainers = 0;
  let totalContainers = asArray(spec.containers).length;
  for (const c of asArray(spec.initContainers))
    if (isJsonObject(c) && c.restartPolicy === "Always") totalContainers++;
  let reason = asString(status.phase);
  if (asString(status.reason) !== "") reason = asString(status.reason);
  const noteRestart = (cs: JsonObject) => {
    const finished = asString(asObject(asObject(cs.lastState).terminated).finishedAt);
    const t = finished === "" ? 0 : Date.parse(finished);
    if (t > lastRestartMs) lastRestartMs = t;
  };
  // A pod waiting for scheduling gates shows SchedulingGated.
  for (const c of asArray(status.conditions)) {
    if (
      isJsonObject(c) &&
      c.type === "PodScheduled" &&
      c.status === "False" &&
      c.reason === "SchedulingGated"
    )
      reason = "SchedulingGated";
  }
  let initializing = false;
  const initStatuses = asArray(status.initContainerStatuses);
  const initCount = asArray(spec.initContainers).length;
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = asObject(initStatuses[i]);
    const state = asObject(cs.state);
    const terminated = isJsonObject(state.terminated) ? state.terminated : undefined;
    const waiting = isJsonObject(state.waiting) ? state.waiting : undefined;
    restarts += num(cs.restartCount);
    if (num(cs.restartCount) > 0) noteRestart(cs);
    const sidecar = isRestartableInit(spec, asString(cs.name));
    if (sidecar) restartableInitRestarts += num(cs.restartCount);
    if (terminated && num(terminated.exitCode) === 0) continue;
    if (sidecar && cs.started === true) {
      if (cs.ready === true) readyContainers++;
      continue;
    }
    if (terminated) {
      if (asString(terminated.reason) === "") {
        reason =
          num(terminated.signal) !== 0
            ? `Init:Signal:${num(terminated.signal)}`
            : `Init:ExitCode:${num(terminated.exitCode)}`;
      } else reason = `Init:${asString(terminated.reason)}`;
    } else if (waiting && asString(waiting.reason) !== "" && waiting.reason !== "PodInitializing") {
      reason = `Init:${asString(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${initCount}`;
    }
    initializing = true;
    break;
  }
  if (!initializing || isPodInitialized(status)) {
    restarts = restartableInitRestarts;
    let hasRunning = false;
    const statuses = asArray(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = asObject(statuses[i]);
      const state = asObject(cs.state);
      restarts += num(cs.restartCount);
      if (num(cs.restartCount) > 0) noteRestart(cs);
      const waiting = asObject(state.waiting);
      const terminated = isJsonObject(state.terminated) ? state.terminated : undefined;
      if (asString(waiting.reason) !== "") reason = asString(waiting.reason);
      else if (terminated && asString(terminated.reason) !== "")
        reason = asString(terminated.reason);
      else if (terminated)
        reason =
          num(terminated.signal) !== 0
            ? `Signal:${num(terminated.signal)}`
            : `ExitCode:${num(terminated.exitCode)}`;
      else if (cs.ready === true && isJsonObject(state.running)) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === "Completed" && hasRunning)
      reason = hasPodReadyCondition(status) ? "Running" : "NotReady";
  }
  const deleting = asString(meta(pod).deletionTimestamp) !== "";
  if (deleting && asString(status.reason) === "NodeLost") reason = "Unknown";
  else if (deleting && status.phase !== "Succeeded" && status.phase !== "Failed")
    reason = "Terminating";
  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestartMs > 0)
    restartsText = `${restarts} (${timestampSince(new Date(lastRestartMs).toISOString(), nowMs)} ago)`;
  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartsText };
}

const podPrinter: Printer = {
  columns: [
    NAME,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
      "Restarts",
      "string",
      "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    col(
      "IP",
      "string",
      "podIP address allocated to the pod. Routable at least within the cluster.",
      1,
    ),
    col("Node", "string", "NodeName indicates in which node this pod is scheduled.", 1),
    col(
      "Nominated Node",
      "string",
      "nominatedNodeName is set when this pod preempts other pods on the node.",
      1,
    ),
    col(
      "Readiness Gates",
      "string",
      "If specified, all readiness gates will be evaluated for pod readiness.",
      1,
    ),
  ],
  cells(pod, nowMs) {
    const { ready, status, restarts } = podStatusCells(pod, nowMs);
    const spec = asObject(pod.spec);
    const st = asObject(pod.status);
    const gates = asArray(spec.readinessGates);
    let gatesText = "<none>";
    if (gates.length > 0) {
      const trueTypes = new Set(
        asArray(st.conditions)
          .filter((c) => isJsonObject(c) && c.status === "True")
          .map((c) => asString(asObject(c).type)),
      );
      const passing = gates.filter((g) =>
        trueTypes.has(asString(asObject(g).conditionType)),
      ).length;
      gatesText = `${passing}/${gates.length}`;
    }
    return [
      asString(meta(pod).name),
      ready,
      status,
      restarts,
      age(pod, nowMs),
      orNone(asString(asObject(asArray(st.podIPs)[0]).ip) || asString(st.podIP)),
      orNone(asString(spec.nodeName)),
      orNone(asString(st.nominatedNodeName)),
      gatesText,
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

function containersAndImages(spec: JsonObject): [string, string] {
  const containers = asArray(asObject(asObject(spec.template).spec).containers).map(asObject);
  return [
    containers.map((c) => asString(c.name)).join(","),
    containers.map((c) => asString(c.image)).join(","),
  ];
}

const CONTAINERS = col("Containers", "string", "Names of each container in the template.", 1);
const IMAGES = col("Images", "string", "Images referenced by each container in the template.", 1);
const SELECTOR = col(
  "Selector",
  "string",
  "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
  1,
);

const deploymentPrinter: Printer = {
  columns: [
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col(
      "Up-to-date",
      "integer",
      "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
    ),
    col(
      "Available",
      "integer",
      "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  cells(d, nowMs) {
    const spec = asObject(d.spec);
    const st = asObject(d.status);
    const [containers, images] = containersAndImages(spec);
    return [
      asString(meta(d).name),
      `${num(st.readyReplicas)}/${num(spec.replicas)}`,
      num(st.updatedReplicas),
      num(st.availableReplicas),
      age(d, nowMs),
      containers,
      images,
      formatLabelSelectorObject(spec.selector as LabelSelectorObject | undefined),
    ];
  },
};

const replicaSetPrinter: Printer = {
  columns: [
    NAME,
    col("Desired", "integer", "Replicas is the number of desired replicas."),
    col("Current", "integer", "Replicas is the most recently observed number of replicas."),
    col("Ready", "integer", "The number of ready replicas for this replica set."),
    AGE,
    CONTAINERS,
    IMAGES,
    col(
      "Selector",
      "string",
      "Selector is a label query over pods that should match the replica count.",
      1,
    ),
  ],
  cells(rs, nowMs) {
    const spec = asObject(rs.spec);
    const st = asObject(rs.status);
    const [containers, images] = containersAndImages(spec);
    return [
      asString(meta(rs).name),
      num(spec.replicas),
      num(st.replicas),
      num(st.readyReplicas),
      age(rs, nowMs),
      containers,
      images,
      formatLabelSelectorObject(spec.selector as LabelSelectorObject | undefined),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Services, endpoints
// ---------------------------------------------------------------------------------------------

function serviceExternalIP(svc: JsonObject): string {
  const spec = asObject(svc.spec);
  const externalIPs = asArray(spec.externalIPs).map((v) => asString(v));
  switch (asString(spec.type) || "ClusterIP") {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const ingress = asArray(asObject(asObject(asObject(svc.status).loadBalancer)).ingress).map(
        asObject,
      );
      const lb = ingress.map((i) => asString(i.ip) || asString(i.hostname)).filter((s) => s !== "");
      const all = [...externalIPs, ...lb];
      return all.length > 0 ? all.join(",") : "<pending>";
    }
    case "ExternalName":
      return asString(spec.externalName);
    default:
      return "<unknown>";
  }
}

function servicePorts(spec: JsonObject): string {
  const ports = asArray(spec.ports).map(asObject);
  if (ports.length === 0) return "<none>";
  return ports
    .map((p) => {
      const protocol = asString(p.protocol) || "TCP";
      return num(p.nodePort) > 0
        ? `${num(p.port)}:${num(p.nodePort)}/${protocol}`
        : `${num(p.port)}/${protocol}`;
    })
    .join(",");
}

const servicePrinter: Printer = {
  columns: [
    NAME,
    col("Type", "string", "type determines how the Service is exposed."),
    col(
      "Cluster-IP",
      "string",
      "clusterIP is the IP address of the service and is usually assigned randomly.",
    ),
    col(
      "External-IP",
      "string",
      "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
    ),
    col("Port(s)", "string", "The list of ports that are exposed by this service."),
    AGE,
    col(
      "Selector",
      "string",
      "Route service traffic to pods with label keys and values matching this selector.",
      1,
    ),
  ],
  cells(svc, nowMs) {
    const spec = asObject(svc.spec);
    return [
      asString(meta(svc).name),
      asString(spec.type) || "ClusterIP",
      orNone(asString(spec.clusterIP)),
      serviceExternalIP(svc),
      servicePorts(spec),
      age(svc, nowMs),
      formatLabels(asObject(spec.selector) as Record<string, string>),
    ];
  },
};

/** `formatEndpoints`: up to three `ip:port`, then `+ N more...`. */
function formatEndpoints(ep: JsonObject): string {
  const max = 3;
  const list: string[] = [];
  let count = 0;
  for (const rawSubset of asArray(ep.subsets)) {
    const subset = asObject(rawSubset);
    const addresses = asArray(subset.addresses).map(asObject);
    const ports = asArray(subset.ports).map(asObject);
    if (ports.length === 0) {
      for (const a of addresses) {
        if (list.length < max) list.push(asString(a.ip));
        count++;
      }
    } else {
      for (const p of ports) {
        for (const a of addresses) {
          if (list.length < max) list.push(`${asString(a.ip)}:${num(p.port)}`);
          count++;
        }
      }
    }
  }
  let ret = list.join(",");
  if (count > list.length) ret += ` + ${count - list.length} more...`;
  return ret === "" ? "<none>" : ret;
}

const endpointsPrinter: Printer = {
  columns: [
    NAME,
    col("Endpoints", "string", "Endpoints is the list of endpoints in this Endpoints object."),
    AGE,
  ],
  cells: (ep, nowMs) => [asString(meta(ep).name), formatEndpoints(ep), age(ep, nowMs)],
};

const endpointSlicePrinter: Printer = {
  columns: [
    NAME,
    col("AddressType", "string", "The IP protocol for this slice"),
    col("Ports", "string", "The ports exposed by this slice"),
    col("Endpoints", "string", "The endpoints in this slice"),
    AGE,
  ],
  cells(es, nowMs) {
    const ports = asArray(es.ports).map(asObject);
    const portsText =
      ports.length === 0
        ? "<unset>"
        : ports.map((p) => (p.port === undefined ? "<unset>" : String(p.port))).join(",");
    const addrs: string[] = [];
    let count = 0;
    for (const e of asArray(es.endpoints).map(asObject))
      for (const a of asArray(e.addresses)) {
        if (addrs.length < 3) addrs.push(asString(a));
        count++;
      }
    let endpoints = addrs.join(",");
    if (count > addrs.length) endpoints += ` + ${count - addrs.length} more...`;
    return [
      asString(meta(es).name),
      asString(es.addressType),
      portsText,
      endpoints === "" ? "<unset>" : endpoints,
      age(es, nowMs),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Nodes, namespaces, config
// ---------------------------------------------------------------------------------------------

const NODE_ROLE_PREFIX = "node-role.kubernetes.io/";

function nodeRoles(node: JsonObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(asObject(meta(node).labels))) {
    if (k.startsWith(NODE_ROLE_PREFIX) && k.length > NODE_ROLE_PREFIX.length)
      roles.add(k.slice(NODE_ROLE_PREFIX.length));
    else if (k === "kubernetes.io/role" && asString(v) !== "") roles.add(asString(v));
  }
  return roles.size === 0 ? "<none>" : [...roles].sort().join(",");
}

function nodeStatus(node: JsonObject): string {
  const conditions = asArray(asObject(node.status).conditions).map(asObject);
  const ready = conditions.find((c) => c.type === "Ready");
  const out: string[] = [];
  if (ready === undefined) out.push("Unknown");
  else out.push(ready.status === "True" ? "Ready" : "NotReady");
  if (asObject(node.spec).unschedulable === true) out.push("SchedulingDisabled");
  return out.join(",");
}

function nodeAddress(node: JsonObject, type: string): string {
  const a = asArray(asObject(node.status).addresses)
    .map(asObject)
    .find((x) => x.type === type);
  return a ? asString(a.address) : "<none>";
}

const nodePrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE,
    col("Version", "string", "Kubelet Version reported by the node."),
    col(
      "Internal-IP",
      "string",
      "List of addresses reachable to the node. Queried from cloud provider, if available.",
      1,
    ),
    col(
      "External-IP",
      "string",
      "List of addresses reachable to the node. Queried from cloud provider, if available.",
      1,
    ),
    col(
      "OS-Image",
      "string",
      "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
      1,
    ),
    col(
      "Kernel-Version",
      "string",
      "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
      1,
    ),
    col(
      "Container-Runtime",
      "string",
      "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
      1,
    ),
  ],
  cells(node, nowMs) {
    const info = asObject(asObject(node.status).nodeInfo);
    const orUnknown = (s: string) => (s === "" ? "<unknown>" : s);
    return [
      asString(meta(node).name),
      nodeStatus(node),
      nodeRoles(node),
      age(node, nowMs),
      asString(info.kubeletVersion),
      nodeAddress(node, "InternalIP"),
      nodeAddress(node, "ExternalIP"),
      orUnknown(asString(info.osImage)),
      orUnknown(asString(info.kernelVersion)),
      orUnknown(asString(info.containerRuntimeVersion)),
    ];
  },
};

const namespacePrinter: Printer = {
  columns: [NAME, col("Status", "string", "The status of the namespace"), AGE],
  cells: (ns, nowMs) => [
    asString(meta(ns).name),
    asString(asObject(ns.status).phase),
    age(ns, nowMs),
  ],
};

const configMapPrinter: Printer = {
  columns: [NAME, col("Data", "integer", "Data contains the configuration data."), AGE],
  cells: (cm, nowMs) => [
    asString(meta(cm).name),
    Object.keys(asObject(cm.data)).length + Object.keys(asObject(cm.binaryData)).length,
    age(cm, nowMs),
  ],
};

const secretPrinter: Printer = {
  columns: [
    NAME,
    col("Type", "string", "Used to facilitate programmatic handling of secret data."),
    col("Data", "integer", "Data contains the secret data."),
    AGE,
  ],
  cells: (s, nowMs) => [
    asString(meta(s).name),
    asString(s.type),
    Object.keys(asObject(s.data)).length,
    age(s, nowMs),
  ],
};

const serviceAccountPrinter: Printer = {
  columns: [
    NAME,
    col(
      "Secrets",
      "integer",
      "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
    ),
    AGE,
  ],
  cells: (sa, nowMs) => [asString(meta(sa).name), asArray(sa.secrets).length, age(sa, nowMs)],
};

const leasePrinter: Printer = {
  columns: [
    NAME,
    col(
      "Holder",
      "string",
      "holderIdentity contains the identity of the holder of a current lease.",
    ),
    AGE,
  ],
  cells: (l, nowMs) => [
    asString(meta(l).name),
    asString(asObject(l.spec).holderIdentity),
    age(l, nowMs),
  ],
};

const eventPrinter: Printer = {
  columns: [
    col("Last Seen", "string", "Time when last Event occurred"),
    col(
      "Type",
      "string",
      "Type of this event (Normal, Warning), new types could be added in the future.",
    ),
    col(
      "Reason",
      "string",
      "This should be a short, machine understandable string that gives the reason for this event being generated.",
    ),
    col("Object", "string", "The object this Event is about."),
    col("Subobject", "string", "The subobject this Event is about.", 1),
    col("Source", "string", "The component reporting this event.", 1),
    col("Message", "string", "A human-readable description of the status of this operation."),
    col("First Seen", "string", "Time when first Event occurred", 1),
    col("Count", "integer", "The number of times this event has occurred.", 1),
    col("Name", "string", "Name must be unique within a namespace.", 1, "name"),
  ],
  cells(ev, nowMs) {
    const first = asString(ev.firstTimestamp) || asString(ev.eventTime);
    const last = asString(ev.lastTimestamp) || first;
    const io = asObject(ev.involvedObject);
    const src = asObject(ev.source);
    const source =
      asString(src.host) !== ""
        ? `${asString(src.component)}, ${asString(src.host)}`
        : asString(src.component);
    // An event series carries the authoritative count.
    const series = asObject(ev.series);
    const count = typeof series.count === "number" ? series.count : num(ev.count);
    return [
      last === "" ? "<unknown>" : timestampSince(last, nowMs),
      asString(ev.type),
      asString(ev.reason),
      `${asString(io.kind).toLowerCase()}/${asString(io.name)}`,
      asString(io.fieldPath),
      source,
      asString(ev.message).trim(),
      first === "" ? "<unknown>" : timestampSince(first, nowMs),
      count,
      asString(meta(ev).name),
    ];
  },
};

const priorityClassPrinter: Printer = {
  columns: [
    NAME,
    col("Value", "integer", "value represents the integer value of this priority class."),
    col(
      "Global-Default",
      "boolean",
      "globalDefault specifies whether this PriorityClass should be considered as the default priority.",
    ),
    AGE,
    col(
      "PreemptionPolicy",
      "string",
      "preemptionPolicy is the Policy for preempting pods with lower priority.",
      1,
    ),
  ],
  cells: (pc, nowMs) => [
    asString(meta(pc).name),
    num(pc.value),
    pc.globalDefault === true,
    age(pc, nowMs),
    asString(pc.preemptionPolicy),
  ],
};

/** An int-or-string field as kubectl prints it: the value, or N/A when unset. */
const intOrStringCell = (v: JsonValue | undefined) =>
  v === undefined || v === null ? "N/A" : String(v);

const podDisruptionBudgetPrinter: Printer = {
  columns: [
    NAME,
    col(
      "Min Available",
      "string",
      "The minimum number of pods that must be available simultaneously.",
    ),
    col(
      "Max Unavailable",
      "string",
      "The maximum number of pods that may be unavailable simultaneously.",
    ),
    col(
      "Allowed Disruptions",
      "integer",
      "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
  ],
  cells: (pdb, nowMs) => {
    const spec = asObject(pdb.spec);
    return [
      asString(meta(pdb).name),
      intOrStringCell(spec.minAvailable),
      intOrStringCell(spec.maxUnavailable),
      num(asObject(pdb.status).disruptionsAllowed),
      age(pdb, nowMs),
    ];
  },
};

/** A Job's condition of `type` is True. */
const jobCondition = (job: JsonObject, type: string) =>
  asArray(asObject(job.status).conditions).some(
    (c) => asObject(c).type === type && asObject(c).status === "True",
  );

/** kubectl's Job STATUS (printers `printJob`). */
function jobStatusText(job: JsonObject): string {
  if (jobCondition(job, "Complete")) return "Complete";
  if (jobCondition(job, "Failed")) return "Failed";
  if (jobCondition(job, "Suspended")) return "Suspended";
  return "Running";
}

const jobPrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", "Status of the job."),
    col(
      "Completions",
      "string",
      "The desired number of successfully finished pods the job should be run with.",
    ),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
  ],
  cells: (job, nowMs) => {
    const spec = asObject(job.spec);
    const status = asObject(job.status);
    const completions =
      typeof spec.completions === "number"
        ? `${num(status.succeeded)}/${spec.completions}`
        : `${num(status.succeeded)}/1 of ${num(spec.parallelism)}`;
    const start = Date.parse(asString(status.startTime));
    const end = Date.parse(asString(status.completionTime));
    const duration = Number.isNaN(start)
      ? ""
      : humanDuration((Number.isNaN(end) ? nowMs : end) - start);
    return [asString(meta(job).name), jobStatusText(job), completions, duration, age(job, nowMs)];
  },
};

const cronJobPrinter: Printer = {
  columns: [
    NAME,
    col("Schedule", "string", "The schedule in Cron format."),
    col("Timezone", "string", "The time zone name for the given schedule."),
    col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions."),
    col("Active", "integer", "A list of pointers to currently running jobs."),
    col(
      "Last Schedule",
      "string",
      "Information when was the last time the job was successfully scheduled.",
    ),
    AGE,
  ],
  cells: (cj, nowMs) => {
    const spec = asObject(cj.spec);
    const status = asObject(cj.status);
    const last = asString(status.lastScheduleTime);
    return [
      asString(meta(cj).name),
      asString(spec.schedule),
      asString(spec.timeZone) || "<none>",
      spec.suspend === true,
      asArray(status.active).length,
      last === "" ? "<none>" : timestampSince(last, nowMs),
      age(cj, nowMs),
    ];
  },
};

const accessModesText = (v: JsonValue | undefined) =>
  asArray(v)
    .map(
      (m) =>
        ({
          ReadWriteOnce: "RWO",
          ReadOnlyMany: "ROX",
          ReadWriteMany: "RWX",
          ReadWriteOncePod: "RWOP",
        })[asString(m)] ?? asString(m),
    )
    .join(",");

const persistentVolumePrinter: Printer = {
  columns: [
    NAME,
    col(
      "Capacity",
      "string",
      "capacity is the description of the persistent volume's resources and capacity.",
    ),
    col("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    col(
      "Reclaim Policy",
      "string",
      "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.",
    ),
    col(
      "Status",
      "string",
      "phase indicates if a volume is available, bound to a claim, or released by a claim.",
    ),
    col(
      "Claim",
      "string",
      "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.",
    ),
    col(
      "StorageClass",
      "string",
      "storageClassName is the name of StorageClass to which this persistent volume belongs.",
    ),
    col(
      "VolumeAttributesClass",
      "string",
      "Name of VolumeAttributesClass to which this persistent volume belongs.",
    ),
    col("Reason", "string", "reason is a brief CamelCase string that describes any failure."),
    AGE,
  ],
  cells: (pv, nowMs) => {
    const spec = asObject(pv.spec);
    const ref = asObject(spec.claimRef);
    return [
      asString(meta(pv).name),
      asString(asObject(spec.capacity).storage),
      accessModesText(spec.accessModes),
      asString(spec.persistentVolumeReclaimPolicy),
      asString(asObject(pv.status).phase),
      ref.name ? `${asString(ref.namespace)}/${asString(ref.name)}` : "",
      asString(spec.storageClassName),
      "<unset>",
      asString(asObject(pv.status).reason),
      age(pv, nowMs),
    ];
  },
};

const persistentVolumeClaimPrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    col(
      "Volume",
      "string",
      "volumeName is the binding reference to the PersistentVolume backing this claim.",
    ),
    col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
    col(
      "Access Modes",
      "string",
      "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    col(
      "StorageClass",
      "string",
      "storageClassName is the name of the StorageClass required by the claim.",
    ),
    col(
      "VolumeAttributesClass",
      "string",
      "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim.",
    ),
    AGE,
  ],
  cells: (pvc, nowMs) => {
    const status = asObject(pvc.status);
    return [
      asString(meta(pvc).name),
      asString(status.phase),
      asString(asObject(pvc.spec).volumeName),
      asString(asObject(status.capacity).storage),
      accessModesText(status.accessModes),
      asString(asObject(pvc.spec).storageClassName),
      "<unset>",
      age(pvc, nowMs),
    ];
  },
};

const storageClassPrinter: Printer = {
  columns: [
    NAME,
    col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    col(
      "ReclaimPolicy",
      "string",
      "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.",
    ),
    col(
      "VolumeBindingMode",
      "string",
      "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    col(
      "AllowVolumeExpansion",
      "boolean",
      "allowVolumeExpansion shows whether the storage class allow volume expand.",
    ),
    AGE,
  ],
  cells: (sc, nowMs) => [
    asString(meta(sc).name),
    asString(sc.provisioner),
    asString(sc.reclaimPolicy),
    asString(sc.volumeBindingMode),
    sc.allowVolumeExpansion === true,
    age(sc, nowMs),
  ],
};
/** kubectl's HPA columns: TARGETS as `cpu: <current>/<target>` per resource metric. */
const hpaPrinter: Printer = {
  columns: [
    NAME,
    col("Reference", "string", "reference to the target of the autoscaler"),
    col("Targets", "string", "the current and target values of the autoscaler's metrics"),
    col("MinPods", "string", "the lower limit for the number of replicas"),
    col("MaxPods", "integer", "the upper limit for the number of replicas"),
    col("Replicas", "integer", "current number of replicas of pods managed by this autoscaler"),
    AGE,
  ],
  cells(hpa, nowMs) {
    const spec = asObject(hpa.spec);
    const st = asObject(hpa.status);
    const ref = asObject(spec.scaleTargetRef);
    const current = (st.currentMetrics ?? []) as JsonObject[];
    const targets = ((spec.metrics ?? []) as JsonObject[]).map((m) => {
      const resource = asObject(m.resource);
      const name = asString(resource.name);
      const target = asObject(resource.target).averageUtilization;
      const now = current.find((c) => asString(asObject(c.resource).name) === name);
      const value = asObject(asObject(now?.resource).current).averageUtilization;
      return `${name}: ${typeof value === "number" ? `${value}%` : "<unknown>"}/${String(target)}%`;
    });
    return [
      asString(meta(hpa).name),
      `${asString(ref.kind)}/${asString(ref.name)}`,
      targets.length > 0 ? targets.join(", ") : "<none>",
      String(spec.minReplicas ?? 1),
      num(spec.maxReplicas),
      num(st.currentReplicas),
      age(hpa, nowMs),
    ];
  },
};

const PRINTERS: Record<string, Printer> = {
  HorizontalPodAutoscaler: hpaPrinter,
  Pod: podPrinter,
  Deployment: deploymentPrinter,
  ReplicaSet: replicaSetPrinter,
  Service: servicePrinter,
  Endpoints: endpointsPrinter,
  EndpointSlice: endpointSlicePrinter,
  Node: nodePrinter,
  Namespace: namespacePrinter,
  ConfigMap: configMapPrinter,
  Secret: secretPrinter,
  ServiceAccount: serviceAccountPrinter,
  Lease: leasePrinter,
  Event: eventPrinter,
  PriorityClass: priorityClassPrinter,
  PodDisruptionBudget: podDisruptionBudgetPrinter,
  Job: jobPrinter,
  CronJob: cronJobPrinter,
  PersistentVolume: persistentVolumePrinter,
  PersistentVolumeClaim: persistentVolumeClaimPrinter,
  StorageClass: storageClassPrinter,
};

/** The default printer for kinds without one: NAME and AGE. */
const defaultPrinter: Printer = {
  columns: [NAME, AGE],
  cells: (o, nowMs) => [asString(meta(o).name), age(o, nowMs)],
};

export function columnDefinitions(kind: string): TableColumnDefinition[] {
  return (PRINTERS[kind] ?? defaultPrinter).columns;
}

/** `PartialObjectMetadata` of an object (what `includeObject=Metadata` embeds). */
export function partialObjectMetadata(obj: JsonObject): JsonObject {
  return {
    kind: "PartialObjectMetadata",
    apiVersion: "meta.k8s.io/v1",
    metadata: asObject(obj.metadata),
  };
}

export interface TableOptions {
  nowMs: number;
  includeObject?: IncludeObject;
  resourceVersion?: string;
  continue?: string;
  remainingItemCount?: number;
}

/** Rows for a list (or a single get) of objects of `kind`. */
export function buildTable(
  kind: string,
  objects: readonly JsonObject[],
  options: TableOptions,
): Table {
  const printer = PRINTERS[kind] ?? defaultPrinter;
  const include = options.includeObject ?? "Metadata";
  const rows = objects.map((obj) => {
    const row: TableRow = {
      cells: printer.cells(obj, options.nowMs),
      object:
        include === "Object" ? obj : include === "Metadata" ? partialObjectMetadata(obj) : null,
    };
    const phase = asString(asObject(obj.status).phase);
    if (kind === "Pod" && (phase === "Succeeded" || phase === "Failed"))
      row.conditions = [{ type: "Completed", status: "True" }];
    return row;
  });
  const metadata: Table["metadata"] = {};
  if (options.resourceVersion !== undefined) metadata.resourceVersion = options.resourceVersion;
  if (options.continue) metadata.continue = options.continue;
  if (options.remainingItemCount !== undefined)
    metadata.remainingItemCount = options.remainingItemCount;
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions: printer.columns,
    rows,
  };
}
