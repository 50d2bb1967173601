/**
 * What a cloud controller is and what it gets. A cloud controller is a controller in the sense
 * of actors/controllers/controller.ts (a reconcile function plus what it watches); its shape is
 * restated here, structurally, because a component does not import a sibling: the node
 * (cmd/node/cloud-role.ts) hands these definitions to the controller runtime, and the compiler
 * checks there that the shapes agree.
 */
import type { JsonObject } from "../api/json.ts";
import type { ObjectApi } from "../client/api-client.ts";
import type { ObjectKey } from "../client/object-key.ts";
import type { CacheReader } from "../client/shared-informers.ts";
import type { Clock } from "../system/clock.ts";
import type { CloudProvider } from "./cloud-provider.ts";

export type CloudWatchEventKind = "add" | "update" | "delete";

export interface CloudControllerDefinition {
  name: string;
  primary: string;
  primaryKind?: string;
  watches?: {
    resource: string;
    map(object: JsonObject, event: CloudWatchEventKind, previous?: JsonObject): ObjectKey[];
  }[];
  primaryFilter?: (object: JsonObject, event: CloudWatchEventKind) => boolean;
  /** Keys reconciled at once (the controller runtime's workers on one queue); default 1. */
  maxConcurrentReconciles?: number;
  reconcile(key: ObjectKey): Promise<{ requeueAfterMs?: number } | undefined>;
}

/** The controller manager's part (the same as every controller's). */
export interface CloudControllerRuntime {
  api: ObjectApi;
  cache: CacheReader;
  clock: Clock;
}

/** What the cloud controllers share: the provider, the cluster's name, where Events go. */
export interface CloudContext {
  provider: CloudProvider;
  /** `--cluster-name`: load balancers and routes are tagged with it. */
  clusterName: string;
  /** Posts an Event (best effort; see actors/client/event-sink.ts). */
  postEvent(event: JsonObject): void;
}

export type CloudControllerFactory = (runtime: CloudControllerRuntime) => CloudControllerDefinition;

export const NODES = "nodes";
export const SERVICES = "services";
