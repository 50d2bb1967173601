/**
 * The `apiserver` actor on every server (DESIGN §6): the internal API (`api/api-protocol.ts`)
 * served for bosun's own components (controllers, scheduler, kubelet) by the same object store,
 * lifecycle and validation code as the REST API (`ApiOperations`), so that behaviour is
 * identical; errors are the same `Status` objects.
 *
 * The machine only routes: `serving` until the node stops; the port does the work.
 */
import { setup } from "xstate";
import { nodeOf } from "../../transport/envelope.ts";
import { type PeerIdentity, tokenIdentity } from "../../transport/peer-identity.ts";
import {
  type ApiReply,
  type CreateRequest,
  type DeleteRequest,
  type GetRequest,
  type ListRequest,
  MAX_WATCH_CHECK_TAGS,
  type PatchRequest,
  type ResourceScope,
  type UpdateRequest,
  type WatchRequest,
} from "../api/api-protocol.ts";
import type { Status } from "../api/status.ts";
import { isUserInfo, type UserInfo } from "../api/user-info.ts";
import { type ActorMessage, answerAsk } from "../system/message.ts";

/**
 * Who sent a request over the mesh: the sender's address, its node as the link authenticated it
 * (on a TLS mesh, its certificate: auth/mesh-identity.ts binds the declaration to it) and the
 * identity the component declared in the body, if any.
 */
export interface MeshCaller {
  from: string;
  peer: PeerIdentity;
  declared: UserInfo | null;
}

/** What the actor needs from the server it runs on (ApiOperations in production). */
export interface InternalApiPort {
  get(request: GetRequest, caller: MeshCaller): Promise<ApiReply>;
  list(request: ListRequest, caller: MeshCaller): Promise<ApiReply>;
  create(request: CreateRequest, caller: MeshCaller): Promise<ApiReply>;
  update(request: UpdateRequest, caller: MeshCaller): Promise<ApiReply>;
  patch(request: PatchRequest, caller: MeshCaller): Promise<ApiReply>;
  delete(request: DeleteRequest, caller: MeshCaller): Promise<ApiReply>;
  /**
   * Starts a watch whose events go to `subscriber` as `api.watch.event` tells; a Status when it
   * cannot start (bad selector, unknown resource, too many watches).
   */
  watch(
    subscriber: string,
    tag: string,
    request: WatchRequest,
    caller: MeshCaller,
  ): Promise<Status | null>;
  cancelWatch(subscriber: string, tag: string): boolean;
  hasWatch(subscriber: string, tag: string): boolean;
}

export type InternalApiEvent =
  | ActorMessage<"api.get", GetRequest>
  | ActorMessage<"api.list", ListRequest>
  | ActorMessage<"api.create", CreateRequest>
  | ActorMessage<"api.update", UpdateRequest>
  | ActorMessage<"api.patch", PatchRequest>
  | ActorMessage<"api.delete", DeleteRequest>
  | ActorMessage<"api.watch", WatchRequest & { tag: string }>
  | ActorMessage<"api.watch.cancel", { tag: string }>
  | ActorMessage<"api.watch.check", { tag: string } | { tags: string[] }>
  | { type: "api.stop" };

function isScope(body: unknown): body is ResourceScope {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as { resource?: unknown }).resource === "string"
  );
}

function needScope<T extends ResourceScope>(kind: string, body: unknown): T {
  if (!isScope(body)) throw new Error(`${kind} needs {resource: string, ...}`);
  return body as T;
}

function callerOf(event: { from: string; body: unknown; peer?: PeerIdentity }): MeshCaller {
  const user = (event.body as { user?: unknown } | null)?.user;
  return {
    from: event.from,
    // the actor system always attaches `peer`; an event sent to the machine by hand (no
    // transport at all) is as unauthenticated as a plaintext mesh's
    peer: event.peer ?? tokenIdentity(nodeOf(event.from)),
    declared: isUserInfo(user) ? user : null,
  };
}

function tagOf(kind: string, body: unknown): string {
  const tag = (body as { tag?: unknown } | null)?.tag;
  if (typeof tag !== "string") throw new Error(`${kind} needs {tag: string}`);
  return tag;
}

/** The tags of a batched `api.watch.check`, or null for the one-tag form. */
function tagsOf(kind: string, body: unknown): string[] | null {
  const tags = (body as { tags?: unknown } | null)?.tags;
  if (tags === undefined) return null;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === "string")) {
    throw new Error(`${kind} needs {tags: string[]}`);
  }
  if (tags.length > MAX_WATCH_CHECK_TAGS) {
    throw new Error(`${kind}: at most ${MAX_WATCH_CHECK_TAGS} tags, got ${tags.length}`);
  }
  return tags;
}

export const internalApiMachine = setup({
  types: {
    context: {} as { port: InternalApiPort },
    input: {} as { port: InternalApiPort },
    events: {} as InternalApiEvent,
  },
  actions: {
    serveGet: ({ context, event }) => {
      if (event.type === "api.get")
        answerAsk(event, () =>
          context.port.get(needScope(event.type, event.body), callerOf(event)),
        );
    },
    serveList: ({ context, event }) => {
      if (event.type === "api.list")
        answerAsk(event, () =>
          context.port.list(needScope(event.type, event.body), callerOf(event)),
        );
    },
    serveCreate: ({ context, event }) => {
      if (event.type === "api.create")
        answerAsk(event, () =>
          context.port.create(needScope(event.type, event.body), callerOf(event)),
        );
    },
    serveUpdate: ({ context, event }) => {
      if (event.type === "api.update")
        answerAsk(event, () =>
          context.port.update(needScope(event.type, event.body), callerOf(event)),
        );
    },
    servePatch: ({ context, event }) => {
      if (event.type === "api.patch")
        answerAsk(event, () =>
          context.port.patch(needScope(event.type, event.body), callerOf(event)),
        );
    },
    serveDelete: ({ context, event }) => {
      if (event.type === "api.delete")
        answerAsk(event, () =>
          context.port.delete(needScope(event.type, event.body), callerOf(event)),
        );
    },
    startWatch: ({ context, event }) => {
      if (event.type !== "api.watch") return;
      answerAsk(event, async () => {
        const request = needScope<WatchRequest>(event.type, event.body);
        const tag = tagOf(event.type, event.body);
        const status = await context.port.watch(event.from, tag, request, callerOf(event));
        return status === null ? { tag } : { tag, status };
      });
    },
    cancelWatch: ({ context, event }) => {
      if (event.type !== "api.watch.cancel") return;
      answerAsk(event, () => ({
        canceled: context.port.cancelWatch(event.from, tagOf(event.type, event.body)),
      }));
    },
    checkWatch: ({ context, event }) => {
      if (event.type !== "api.watch.check") return;
      answerAsk(event, () => {
        const tags = tagsOf(event.type, event.body);
        if (tags === null)
          return { alive: context.port.hasWatch(event.from, tagOf(event.type, event.body)) };
        return { alive: tags.map((tag) => context.port.hasWatch(event.from, tag)) };
      });
    },
  },
}).createMachine({
  id: "apiserver",
  context: ({ input }) => ({ port: input.port }),
  initial: "serving",
  states: {
    serving: {
      on: {
        "api.get": { actions: "serveGet" },
        "api.list": { actions: "serveList" },
        "api.create": { actions: "serveCreate" },
        "api.update": { actions: "serveUpdate" },
        "api.patch": { actions: "servePatch" },
        "api.delete": { actions: "serveDelete" },
        "api.watch": { actions: "startWatch" },
        "api.watch.cancel": { actions: "cancelWatch" },
        "api.watch.check": { actions: "checkWatch" },
        "api.stop": { target: "stopped" },
      },
    },
    stopped: { type: "final" },
  },
});
