import { describe, expect, it } from "vitest";
import { createActor } from "xstate";
import { ManualClock } from "../../../actors/system/clock.ts";
import {
  MAX_CHECK_INTERVAL_MS,
  meshCertificateRenewalMachine,
  RENEWAL_RETRY_MS,
  renewalDueAtMs,
} from "../../../cmd/node/mesh-certificate-renewal.ts";

const DAY_MS = 86_400_000;

/** A certificate due `dueAtMs` on the clock, renewed by `renew` into one due 60 days later. */
function harness(dueAtMs: number, failures = 0) {
  const clock = new ManualClock();
  let due = dueAtMs;
  let renewals = 0;
  let failing = failures;
  const actor = createActor(meshCertificateRenewalMachine, {
    clock,
    input: {
      dueInMs: () => due - clock.nowMs(),
      renew: async () => {
        if (failing > 0) {
          failing--;
          throw new Error("no server answered");
        }
        renewals++;
        due = clock.nowMs() + 60 * DAY_MS;
      },
    },
  });
  actor.start();
  const flush = () => new Promise((r) => setImmediate(r));
  return { clock, actor, renewals: () => renewals, flush };
}

describe("mesh certificate renewal (client-go's certificate manager: two thirds of the lifetime)", () => {
  it("renews at two thirds of a 90-day certificate's lifetime, not before", async () => {
    expect(renewalDueAtMs(0, 90 * DAY_MS)).toBe(60 * DAY_MS);
    const h = harness(renewalDueAtMs(0, 90 * DAY_MS));
    for (let day = 1; day < 60; day++) {
      h.clock.advance(DAY_MS);
      await h.flush();
    }
    expect(h.renewals()).toBe(0);
    expect(h.actor.getSnapshot().value).toBe("valid");
    h.clock.advance(DAY_MS);
    await h.flush();
    await h.flush();
    expect(h.renewals()).toBe(1);
    expect(h.actor.getSnapshot().value).toBe("valid");
    h.actor.stop();
  });

  it("wakes at least daily, so a timer never waits past what setTimeout can", () => {
    const h = harness(365 * DAY_MS);
    expect(MAX_CHECK_INTERVAL_MS).toBeLessThan(2 ** 31 - 1);
    h.clock.advance(MAX_CHECK_INTERVAL_MS);
    expect(h.actor.getSnapshot().value).toBe("valid");
    h.actor.stop();
  });

  it("backs off after a failed renewal and tries again", async () => {
    const h = harness(0, 1);
    h.clock.advance(0);
    await h.flush();
    await h.flush();
    expect(h.actor.getSnapshot().value).toBe("backoff");
    expect(h.renewals()).toBe(0);
    h.clock.advance(RENEWAL_RETRY_MS);
    await h.flush();
    await h.flush();
    expect(h.renewals()).toBe(1);
    expect(h.actor.getSnapshot().value).toBe("valid");
    h.actor.stop();
  });
});
