/**
 * Fixtures for the Service controllers' tests (Endpoints, EndpointSlices, ClusterIP/NodePort
 * allocation): Service and pod builders, the controller runtime over the in-memory API under a
 * ManualClock, and a lagging watch source whose events reach the informers late, so that a
 * controller's cache is stale the way a real one can be.
 */

import type { ListRequest, WatchRequest } from "../../../actors/api/api-protocol.ts";
import type { JsonObject } from "../../../actors/api/json.ts";
import type {
  ApiWatchHandle,
  ApiWatchHandlers,
  ListWatcher,
  ObjectList,
} from "../../../actors/client/api-client.ts";
import { EventBroadcaster } from "../../../actors/client/event-recorder.ts";
import { SharedInformers } from "../../../actors/client/shared-informers.ts";
import type { ControllerFactory } from "../../../actors/controllers/controller-manager.ts";
import { runController } from "../../../actors/controllers/controller-runner.ts";
import type { ManualClock } from "../../../actors/system/clock.ts";
import { type FakeApi, settle } from "./fake-api.ts";

export const NS = "default";

export interface PodSpec {
  ip?: string;
  ready?: boolean;
  labels?: Record<string, string>;
  node?: string;
  phase?: string;
  /** Container ports: `[name, number]`. */
  ports?: [string, number][];
  deleting?: boolean;
  namespace?: string;
}

export function podObject(name: string, spec: PodSpec = {}): JsonObject {
  const metadata: JsonObject = {
    name,
    namespace: spec.namespace ?? NS,
    labels: spec.labels ?? { app: "web" },
  };
  if (spec.deleting) metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
  const status: JsonObject = {
    phase: spec.phase ?? "Running",
    conditions: [{ type: "Ready", status: spec.ready === false ? "False" : "True" }],
  };
  if (spec.ip) status.podIP = spec.ip;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    spec: {
      nodeName: spec.node ?? "n1",
      containers: [
        {
          name: "c",
          image: "bosun/echo",
          ports: (spec.ports ?? [["http", 8080]]).map(([n, p]) => ({
            name: n,
            containerPort: p,
            protocol: "TCP",
          })),
        },
      ],
    },
    status,
  };
}

export function serviceObject(
  name: string,
  spec: JsonObject = {},
  metadata: JsonObject = {},
): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: NS, ...metadata },
    spec: {
      selector: { app: "web" },
      ports: [{ port: 80, targetPort: 8080, protocol: "TCP" }],
      ...spec,
    },
  };
}

/** Starts controllers over shared informers; `source` defaults to the API itself. */
export function startControllers(
  api: FakeApi,
  clock: ManualClock,
  factories: ControllerFactory[],
  source: ListWatcher = api,
) {
  const informers = new SharedInformers({ source, clock });
  const ctx = { api, cache: informers, clock, events: new EventBroadcaster({ api, clock }) };
  const controllers = factories.map((f) => runController(f(ctx), informers, clock));
  informers.start();
  return {
    informers,
    controllers,
    stop() {
      for (const c of controllers) c.stop();
      informers.stop();
    },
  };
}

/** Advances the clock in steps, letting promise chains run after each. */
export async function run(clock: ManualClock, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(stepMs);
    await settle();
  }
}

/**
 * A ListWatcher over `api` whose watch events arrive `delayMs()` late (in order): lists are
 * current, the informers' caches trail behind the API by up to the largest delay.
 */
export class LaggingSource implements ListWatcher {
  private lastDueMs = 0;

  constructor(
    private readonly api: FakeApi,
    private readonly clock: ManualClock,
    private readonly delayMs: () => number,
  ) {}

  list(request: ListRequest): Promise<ObjectList> {
    return this.api.list(request);
  }

  watch(request: WatchRequest, handlers: ApiWatchHandlers): Promise<ApiWatchHandle> {
    let open = true;
    return this.api
      .watch(request, {
        event: (event) => {
          const dueMs = Math.max(this.lastDueMs, this.clock.nowMs() + this.delayMs());
          this.lastDueMs = dueMs;
          this.clock.setTimeout(() => {
            if (open) handlers.event(event);
          }, dueMs - this.clock.nowMs());
        },
        closed: (error) => handlers.closed(error),
      })
      .then((handle) => ({
        cancel: () => {
          open = false;
          handle.cancel();
        },
      }));
  }
}

/** The status subresource write a kubelet makes. */
export async function setPodStatus(api: FakeApi, name: string, status: JsonObject): Promise<void> {
  const pod = await api.get("pods", name, { namespace: NS });
  await api.update("pods", { ...pod, status }, { subresource: "status" });
}

export const meta = (o: JsonObject) => o.metadata as Record<string, unknown>;
