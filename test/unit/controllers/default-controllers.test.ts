import { describe, expect, it } from "vitest";
import { EventBroadcaster } from "../../../actors/client/event-recorder.ts";
import type { ControllerContext } from "../../../actors/controllers/controller.ts";
import { DEFAULT_CONTROLLERS } from "../../../actors/controllers/controller-manager.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { FakeApi } from "./fake-api.ts";

describe("the controller manager's default controllers", () => {
  it("have one name each: every name becomes an actor address (a resource served in two versions is one garbage collector)", () => {
    const clock = new ManualClock();
    const api = new FakeApi();
    const ctx: ControllerContext = {
      api,
      cache: { get: () => undefined, list: () => [] },
      clock,
      events: new EventBroadcaster({ api, clock, onError: () => {} }),
    };
    const names = DEFAULT_CONTROLLERS.map((factory) => factory(ctx).name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    expect(names).toContain("garbage-collector:horizontalpodautoscalers.autoscaling");
  });
});
