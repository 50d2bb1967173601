/**
 * The scheduler's view of storage (kube-scheduler's PV/PVC/StorageClass listers plus the
 * volume binder's assume cache): claims, volumes and classes as the informers last showed them,
 * and the volumes a scheduling decision has reserved for a claim but not yet written (so that
 * two pods in a row do not both count on one free volume). Fed by the scheduler's informers;
 * read by the VolumeBinding plugin. `waitUntil` lets PreBind wait for a claim to be bound on
 * the informers' updates rather than by polling the API.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import type { Clock, TimerId } from "../system/clock.ts";

const keyOf = (o: JsonObject) => {
  const meta = asObject(o.metadata);
  const ns = asString(meta.namespace);
  return ns === "" ? asString(meta.name) : `${ns}/${asString(meta.name)}`;
};

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
}

export class VolumeCache {
  private readonly claims = new Map<string, JsonObject>();
  private readonly volumes = new Map<string, JsonObject>();
  private readonly classes = new Map<string, JsonObject>();
  /** Volume name → the claim key a decision reserved it for. */
  private readonly reserved = new Map<string, string>();
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly clock: Clock) {}

  setClaim(pvc: JsonObject): void {
    this.claims.set(keyOf(pvc), pvc);
    this.wake();
  }
  removeClaim(pvc: JsonObject): void {
    this.claims.delete(keyOf(pvc));
    this.wake();
  }
  setVolume(pv: JsonObject): void {
    this.volumes.set(keyOf(pv), pv);
    this.wake();
  }
  removeVolume(pv: JsonObject): void {
    this.volumes.delete(keyOf(pv));
    this.reserved.delete(keyOf(pv));
    this.wake();
  }
  setClass(sc: JsonObject): void {
    this.classes.set(keyOf(sc), sc);
  }
  removeClass(sc: JsonObject): void {
    this.classes.delete(keyOf(sc));
  }

  claim(namespace: string, name: string): JsonObject | undefined {
    return this.claims.get(`${namespace}/${name}`);
  }
  volume(name: string): JsonObject | undefined {
    return this.volumes.get(name);
  }
  storageClass(name: string): JsonObject | undefined {
    return this.classes.get(name);
  }
  allVolumes(): IterableIterator<JsonObject> {
    return this.volumes.values();
  }

  /** Reserves `volume` for `claimKey` (false: another claim holds it). */
  reserve(volume: string, claimKey: string): boolean {
    const holder = this.reserved.get(volume);
    if (holder !== undefined && holder !== claimKey) return false;
    this.reserved.set(volume, claimKey);
    return true;
  }
  release(volume: string, claimKey: string): void {
    if (this.reserved.get(volume) === claimKey) this.reserved.delete(volume);
  }
  reservedFor(volume: string): string | undefined {
    return this.reserved.get(volume);
  }

  /** Resolves true once `ready()` holds (checked on every change), false after `timeoutMs`. */
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: TimerId | null = null;
      const waiter: Waiter = {
        ready,
        resolve: () => {
          if (timer !== null) this.clock.clearTimeout(timer);
          resolve(true);
        },
      };
      this.waiters.add(waiter);
      timer = this.clock.setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(false);
      }, timeoutMs);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters])
      if (w.ready()) {
        this.waiters.delete(w);
        w.resolve();
      }
  }
}
