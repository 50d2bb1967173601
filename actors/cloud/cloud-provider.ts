/**
 * The cloud provider interface, after k8s.io/cloud-provider's `cloud.go`: a provider offers
 * some of LoadBalancer, InstancesV2, Zones, Clusters and Routes; an accessor answers `null` for
 * "not supported" (Go's `(nil, false)`), and the controllers that need it stay off. Objects come
 * and go as the Kubernetes JSON the API serves (a Service, a Node), as cloud-provider passes
 * `*v1.Service` and `*v1.Node`.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";

export interface LoadBalancerIngress {
  ip: string;
  /** KEP-1860: `VIP` (traffic arrives with the LB's IP as destination). */
  ipMode?: "VIP" | "Proxy";
  ports?: { port: number; protocol: string }[];
}

export interface LoadBalancerStatus {
  ingress: LoadBalancerIngress[];
}

/** cloud-provider's LoadBalancer: every call is idempotent and takes the whole Service. */
export interface LoadBalancer {
  /** The LB's status when it exists, else null (Go: `exists=false`). */
  getLoadBalancer(clusterName: string, service: JsonObject): Promise<LoadBalancerStatus | null>;
  getLoadBalancerName(clusterName: string, service: JsonObject): string;
  /** Creates or updates the LB to forward the Service's ports to `nodes`. */
  ensureLoadBalancer(
    clusterName: string,
    service: JsonObject,
    nodes: readonly JsonObject[],
  ): Promise<LoadBalancerStatus>;
  /** Only the set of nodes changed. */
  updateLoadBalancer(
    clusterName: string,
    service: JsonObject,
    nodes: readonly JsonObject[],
  ): Promise<void>;
  /** Deletes it if it exists; no error when it does not. */
  ensureLoadBalancerDeleted(clusterName: string, service: JsonObject): Promise<void>;
}

export interface NodeAddress {
  type: "InternalIP" | "ExternalIP" | "Hostname" | "InternalDNS" | "ExternalDNS";
  address: string;
}

export interface InstanceMetadata {
  /** `<provider>://<instance id>`, what `spec.providerID` carries. */
  providerID: string;
  instanceType: string;
  nodeAddresses: NodeAddress[];
  zone: string;
  region: string;
}

/** cloud-provider's InstancesV2 (the node controllers need nothing more). */
export interface InstancesV2 {
  instanceExists(node: JsonObject): Promise<boolean>;
  /** True when the instance exists but is not running (stopped, paused). */
  instanceShutdown(node: JsonObject): Promise<boolean>;
  instanceMetadata(node: JsonObject): Promise<InstanceMetadata>;
}

export interface Zone {
  failureDomain: string;
  region: string;
}

export interface Zones {
  getZoneByNodeName(nodeName: string): Promise<Zone>;
  getZoneByProviderID(providerID: string): Promise<Zone>;
}

export interface Clusters {
  listClusters(): Promise<string[]>;
  master(clusterName: string): Promise<string>;
}

/** A route in the cloud's route table: pod traffic for `destinationCIDR` goes to the node. */
export interface Route {
  name: string;
  targetNode: string;
  destinationCIDR: string;
  blackhole?: boolean;
}

export interface Routes {
  listRoutes(clusterName: string): Promise<Route[]>;
  /** `nameHint` (a uid) makes the route's name unique and stable across retries. */
  createRoute(clusterName: string, nameHint: string, route: Route): Promise<void>;
  deleteRoute(clusterName: string, route: Route): Promise<void>;
}

export interface CloudProvider {
  providerName(): string;
  /** Whether the provider tells clusters apart (their LBs and routes carry the cluster name). */
  hasClusterID(): boolean;
  loadBalancer(): LoadBalancer | null;
  instancesV2(): InstancesV2 | null;
  zones(): Zones | null;
  clusters(): Clusters | null;
  routes(): Routes | null;
}

/**
 * Why a load balancer cannot be had, in words a user can act on (cloud-provider has no such
 * type; its users' most common complaint is a Service pending with no reason given). The
 * service controller puts `reason` in a condition and an Event.
 */
export class LoadBalancerUnavailableError extends Error {
  constructor(
    readonly reason: "ExternalIPPoolExhausted" | "PortClash" | "InvalidLoadBalancerIP",
    message: string,
  ) {
    super(message);
    this.name = "LoadBalancerUnavailableError";
  }
}

/** The longest LB name cloud-provider's default produces (AWS limits names to 32). */
const MAX_LOAD_BALANCER_NAME = 32;

/** cloud-provider's DefaultLoadBalancerName: `a` + the Service's uid without dashes, at most 32. */
export function defaultLoadBalancerName(service: JsonObject): string {
  const uid = asString(asObject(service.metadata).uid).replaceAll("-", "");
  return `a${uid}`.slice(0, MAX_LOAD_BALANCER_NAME);
}
