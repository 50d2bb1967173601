/**
 * One informer per resource, shared by every controller that reads it (client-go's
 * SharedInformerFactory): handlers are registered first, then `start()` lists and watches each
 * resource once. `cache` reads by resource and key, for reconcile functions.
 */
import { asObject, type JsonObject } from "../api/json.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { Clock } from "../system/clock.ts";
import type { ListWatcher } from "./api-client.ts";
import { Informer } from "./informer.ts";
import type { InformerHandlers } from "./informer-cache.ts";
import { keyString, type ObjectKey } from "./object-key.ts";

/** What reconcile functions read: the informers' caches, by resource. */
export interface CacheReader {
  get(resource: string, key: ObjectKey): JsonObject | undefined;
  list(resource: string, namespace?: string): JsonObject[];
}

export class SharedInformers implements CacheReader {
  private readonly handlers = new Map<string, InformerHandlers[]>();
  private readonly informers = new Map<string, Informer>();
  private readonly syncListeners: (() => void)[] = [];
  private started = false;

  constructor(
    private readonly options: {
      source: ListWatcher;
      clock: Clock;
      resyncPeriodMs?: number;
      /** Run the informers as children of this actor (`owner.parent/informer:pods`). */
      owner?: { system: ActorSystem; parent: string };
    },
  ) {}

  /** Registers handlers for `resource` (and so an informer for it). Before `start()` only. */
  addHandlers(resource: string, handlers: InformerHandlers): void {
    if (this.started) throw new Error(`informers already started; cannot add ${resource}`);
    const list = this.handlers.get(resource) ?? [];
    list.push(handlers);
    this.handlers.set(resource, list);
  }

  /** Reads `resource` through the cache (an informer with no handlers of its own). */
  use(resource: string): void {
    if (!this.handlers.has(resource)) this.addHandlers(resource, {});
  }

  /** Called once, when every informer has listed. */
  onSynced(listener: () => void): void {
    this.syncListeners.push(listener);
  }

  start(): void {
    this.started = true;
    for (const [resource, list] of this.handlers) {
      const fanOut: InformerHandlers = {
        add: (o) => {
          for (const h of list) h.add?.(o);
        },
        update: (a, b) => {
          for (const h of list) h.update?.(a, b);
        },
        delete: (o) => {
          for (const h of list) h.delete?.(o);
        },
      };
      const informer = Informer.start({
        source: this.options.source,
        resource,
        clock: this.options.clock,
        handlers: fanOut,
        resyncPeriodMs: this.options.resyncPeriodMs ?? 0,
        system: this.options.owner?.system,
        parent: this.options.owner?.parent,
      });
      this.informers.set(resource, informer);
    }
    let fired = false;
    const check = () => {
      if (fired || !this.hasSynced()) return;
      fired = true;
      for (const l of this.syncListeners) l();
    };
    for (const informer of this.informers.values()) informer.actor.subscribe(check);
    check();
  }

  hasSynced(): boolean {
    return this.started && [...this.informers.values()].every((i) => i.hasSynced());
  }

  get(resource: string, key: ObjectKey): JsonObject | undefined {
    return this.informers.get(resource)?.get(keyString(key));
  }

  list(resource: string, namespace?: string): JsonObject[] {
    const all = this.informers.get(resource)?.list() ?? [];
    if (namespace === undefined) return all;
    return all.filter((o) => asObject(o.metadata).namespace === namespace);
  }

  stop(): void {
    for (const informer of this.informers.values()) informer.stop();
    this.informers.clear();
  }
}
