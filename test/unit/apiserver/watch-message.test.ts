/**
 * Watch events on the internal API: a cached object travels as the watch cache's JSON text
 * (made once for every watcher) and arrives as the object; other events travel as they are;
 * text that is not an object is refused, not delivered.
 */
import { describe, expect, it } from "vitest";
import { watchEventOf } from "../../../actors/api/api-protocol.ts";
import { CacheIndex, cachedJson } from "../../../actors/apiserver/cache-index.ts";

describe("watch messages", () => {
  it("a cached object's JSON text is what its watchers get, parsed back to the same object", () => {
    const index = new CacheIndex();
    const object = { kind: "Pod", metadata: { name: "p", resourceVersion: "7" }, spec: {} };
    const cached = index.put("/registry/core/pods/a/p", Buffer.from(JSON.stringify(object)), 7);
    const json = cachedJson(cached.object);
    expect(json).toBeDefined();
    const event = watchEventOf({ tag: "t", event: { type: "MODIFIED", json: json as string } });
    expect(event).toEqual({ type: "MODIFIED", object: cached.object });
    // not cached: no text (such events travel as objects)
    expect(cachedJson({ ...cached.object })).toBeUndefined();
  });

  it("an event sent as an object arrives as it is", () => {
    const event = { type: "BOOKMARK" as const, object: { kind: "Pod", metadata: {} } };
    expect(watchEventOf({ tag: "t", event })).toBe(event);
  });

  it("text that is not a JSON object is refused", () => {
    expect(() => watchEventOf({ tag: "t", event: { type: "ADDED", json: "[1]" } })).toThrow(
      /not an object/,
    );
    expect(() => watchEventOf({ tag: "t", event: { type: "ADDED", json: "{" } })).toThrow();
  });
});
