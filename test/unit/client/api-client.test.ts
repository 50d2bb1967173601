/**
 * The ApiClient against the `apiserver` actor in one in-process actor system with a scripted
 * port: Status answers become ApiErrors (not retries), watch events are routed by tag, and an
 * ERROR event closes the watch with its Status (410 Gone for the informer to relist on).
 */

import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  API_ACTOR,
  API_WATCH_EVENT_KIND,
  type ApiReply,
  type ApiWatchEvent,
} from "../../../actors/api/api-protocol.ts";
import { conflictStatus, goneStatus } from "../../../actors/api/status.ts";
import {
  type InternalApiPort,
  internalApiMachine,
} from "../../../actors/apiserver/internal-api.ts";
import {
  ApiClient,
  ApiOutcomeUnknownError,
  isConditionalWrite,
} from "../../../actors/client/api-client.ts";
import { ApiError, isConflict } from "../../../actors/client/errors.ts";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { MemoryWireHub } from "../../support/memory-wire.ts";
import { waitFor } from "../../support/wait.ts";

function scriptedPort(system: ActorSystem) {
  const calls: string[] = [];
  const watchers = new Map<string, string>();
  const ok = (object: Record<string, unknown>): Promise<ApiReply> =>
    Promise.resolve({ ok: true, object: object as never });
  const port: InternalApiPort = {
    get: (r) => {
      calls.push(`get ${r.name}`);
      return ok({ metadata: { name: r.name } });
    },
    list: () => ok({ kind: "ConfigMapList", metadata: { resourceVersion: "7" }, items: [] }),
    create: (r) => ok(r.object),
    update: (r) => {
      calls.push("update");
      return Promise.resolve({
        ok: false,
        status: conflictStatus(
          { group: "", resource: "configmaps" },
          String((r.object.metadata as { name?: string }).name),
        ),
      });
    },
    patch: (r) => ok({ patched: r.patchType }),
    delete: (r) => ok({ metadata: { name: r.name } }),
    watch: async (subscriber, tag) => {
      watchers.set(tag, subscriber);
      return null;
    },
    cancelWatch: (_s, tag) => watchers.delete(tag),
    hasWatch: (_s, tag) => watchers.has(tag),
  };
  const emit = (event: ApiWatchEvent) => {
    for (const [tag, subscriber] of watchers)
      system.tell(system.address(API_ACTOR), subscriber, API_WATCH_EVENT_KIND, { tag, event });
  };
  return { port, calls, watchers, emit };
}

describe("ApiClient ↔ apiserver actor", () => {
  it("answers verbs, throws a Status as ApiError without retrying, streams and closes watches", async () => {
    const system = new ActorSystem({
      nodeId: "n1",
      clock: new SystemClock(),
      logger: pino({ level: "silent" }),
    });
    const { port, calls, watchers, emit } = scriptedPort(system);
    system.spawn(API_ACTOR, internalApiMachine, { input: { port } });
    const api = new ApiClient({ system, servers: () => ["n1"], watchCheckIntervalMs: 20 });
    try {
      expect(await api.get("configmaps", "a", { namespace: "default" })).toEqual({
        metadata: { name: "a" },
      });
      const stale = api.update("configmaps", { metadata: { name: "a", resourceVersion: "1" } });
      await expect(stale).rejects.toSatisfy(isConflict);
      expect(calls.filter((c) => c === "update")).toHaveLength(1);
      expect(await api.patch("configmaps", "a", "strategic", {})).toEqual({ patched: "strategic" });

      const events: string[] = [];
      let closed: Error | null = null;
      await api.watch(
        { resource: "configmaps", resourceVersion: "7" },
        { event: (e) => events.push(e.type), closed: (e) => (closed = e) },
      );
      emit({ type: "ADDED", object: { metadata: { name: "x", resourceVersion: "8" } } });
      emit({ type: "BOOKMARK", object: { metadata: { resourceVersion: "9" } } });
      await waitFor("two events", () => events.length === 2);
      expect(events).toEqual(["ADDED", "BOOKMARK"]);
      emit({ type: "ERROR", object: goneStatus() as never });
      await waitFor("the watch to close", () => closed !== null);
      expect(closed).toBeInstanceOf(ApiError);
      expect((closed as unknown as ApiError).status.code).toBe(410);

      // a watch the server no longer serves is closed by the client's check
      let lost: Error | null = null;
      await api.watch({ resource: "configmaps" }, { event: () => {}, closed: (e) => (lost = e) });
      watchers.clear();
      await waitFor("the lost watch to close", () => lost !== null);
    } finally {
      api.close();
      system.stop();
    }
  });
});

describe("ApiClient watch checks", () => {
  it("checks all its watches on a server in one ask a round, and closes only those it forgot", async () => {
    const system = new ActorSystem({
      nodeId: "n1",
      clock: new SystemClock(),
      logger: pino({ level: "silent" }),
    });
    const { port, watchers } = scriptedPort(system);
    system.spawn(API_ACTOR, internalApiMachine, { input: { port } });
    const api = new ApiClient({ system, servers: () => ["n1"], watchCheckIntervalMs: 20 });
    try {
      const lost: string[] = [];
      for (const name of ["a", "b", "c"]) {
        await api.watch(
          { resource: "configmaps", name },
          { event: () => {}, closed: () => lost.push(name) },
        );
      }
      system.readInspection(0); // a reader: the checks' payloads are recorded
      const checks = () =>
        system.ring
          .read(0, { address: `n1/${API_ACTOR}` })
          .records.filter((r) => r.kind === "@xstate.event" && r.eventType === "api.watch.check")
          .map((r) => (r.payload as { body?: { tags?: unknown[] } }).body?.tags?.length);
      await waitFor("two rounds of checks", () => checks().length >= 2);
      expect(checks().every((tags) => tags === 3)).toBe(true); // one ask a round for all three
      const [forgotten] = [...watchers.keys()];
      watchers.delete(forgotten ?? "");
      await waitFor("the forgotten watch to close", () => lost.length > 0);
      const after = checks().length;
      await waitFor("two more rounds", () => checks().length >= after + 2);
      expect(checks().at(-1)).toBe(2);
      expect(lost).toEqual(["a"]);
    } finally {
      api.close();
      system.stop();
    }
  });
});

describe("ApiClient retries of writes", () => {
  const silent = pino({ level: "silent" });
  const clock = new SystemClock();

  /** A client member and servers on one in-memory wire; `serving` servers run the apiserver. */
  function cluster(servers: string[], serving: Record<string, Partial<InternalApiPort>>) {
    const hub = new MemoryWireHub();
    const systems = ["c1", ...servers].map(
      (nodeId) => new ActorSystem({ nodeId, clock, logger: silent, wire: hub.wireFor(nodeId) }),
    );
    const updates: string[] = [];
    for (const system of systems.slice(1)) {
      const overrides = serving[system.nodeId];
      if (overrides === undefined) continue;
      const port: InternalApiPort = {
        ...scriptedPort(system).port,
        update: async (r) => {
          updates.push(system.nodeId);
          return { ok: true, object: r.object };
        },
        ...overrides,
      };
      system.spawn(API_ACTOR, internalApiMachine, { input: { port } });
    }
    const client = systems[0] as ActorSystem;
    const api = new ApiClient({
      system: client,
      servers: () => servers,
      requestTimeoutMs: 200,
    });
    const stop = () => {
      api.close();
      for (const s of systems) s.stop();
    };
    return { hub, api, updates, stop };
  }

  /** n2 takes updates and never answers (an API server cut off from the Raft leader); n3 serves. */
  function n2NeverAnswersUpdates() {
    const updates: string[] = [];
    const c = cluster(["n2", "n3"], {
      n2: {
        update: () => {
          updates.push("n2");
          return new Promise<ApiReply>(() => {});
        },
      },
      n3: {
        update: async (r) => {
          updates.push("n3");
          return { ok: true, object: r.object };
        },
      },
    });
    return { ...c, updates };
  }

  it("sends a write again only where it provably never arrived: no link, no apiserver actor", async () => {
    // n2 cannot be sent to; n3 is up but runs no apiserver; n4 serves
    const { hub, api, updates, stop } = cluster(["n2", "n3", "n4"], { n4: {} });
    hub.setDown("n2", true);
    try {
      const object = { metadata: { name: "a", namespace: "default" }, data: { v: "1" } };
      expect(await api.update("configmaps", object)).toEqual(object);
      expect(updates).toEqual(["n4"]);
    } finally {
      stop();
    }
  });

  it("does not send a write that timed out to another server: its outcome is unknown", async () => {
    const { api, updates, stop } = n2NeverAnswersUpdates();
    try {
      const object = { metadata: { name: "a", namespace: "default" }, data: { v: "1" } };
      await expect(api.update("configmaps", object)).rejects.toBeInstanceOf(ApiOutcomeUnknownError);
      expect(updates).toEqual(["n2"]);
      // reads are still retried elsewhere; the next request goes to a server that answers
      expect(await api.get("configmaps", "a", { namespace: "default" })).toEqual({
        metadata: { name: "a" },
      });
      await api.update("configmaps", object);
      expect(updates).toEqual(["n2", "n3"]);
    } finally {
      stop();
    }
  });

  it("sends a conditional write again after a timeout: a late first attempt fails its precondition", async () => {
    const { api, updates, stop } = n2NeverAnswersUpdates();
    try {
      const pinned = { metadata: { name: "a", namespace: "default", resourceVersion: "7" } };
      expect(await api.update("configmaps", pinned)).toEqual(pinned);
      expect(updates).toEqual(["n2", "n3"]);
      expect(isConditionalWrite("api.delete", { preconditions: { uid: "u" } })).toBe(true);
      expect(isConditionalWrite("api.delete", { name: "a" })).toBe(false);
      expect(isConditionalWrite("api.patch", { patch: {} })).toBe(false);
    } finally {
      stop();
    }
  });
});
