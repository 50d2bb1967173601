/**
 * A listener open only while wanted: a failed bind is retried after `retryMs` on the clock (and
 * reported once per streak), a `set(false)` closes at once, and one arriving mid-bind closes the
 * socket as soon as the bind completes.
 */
import { expect, it } from "vitest";
import { type Bindable, ListenerSlot } from "../../../actors/proxy/listener-slot.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

const settle = () => new Promise((r) => setImmediate(r));

function fakeSocket(failures: number) {
  const log: string[] = [];
  let left = failures;
  const target: Bindable = {
    open: async () => {
      log.push("open");
      if (left-- > 0) throw new Error("EADDRINUSE");
    },
    close: () => log.push("close"),
  };
  return { target, log };
}

it("retries a failed bind every retryMs while wanted, reporting the error once", async () => {
  const clock = new ManualClock();
  const { target, log } = fakeSocket(2);
  const errors: string[] = [];
  const slot = new ListenerSlot(target, clock, 500, (e) => errors.push(e.message));
  slot.set(true);
  await settle();
  expect(slot.isOpen()).toBe(false);
  clock.advance(499);
  await settle();
  expect(log).toEqual(["open"]);
  clock.advance(1);
  await settle();
  clock.advance(500);
  await settle();
  expect(slot.isOpen()).toBe(true);
  expect(log).toEqual(["open", "open", "open"]);
  expect(errors).toEqual(["EADDRINUSE"]);
  slot.set(false);
  expect(log.at(-1)).toBe("close");
});

it("closes right after a bind that was no longer wanted when it completed", async () => {
  const clock = new ManualClock();
  const { target, log } = fakeSocket(0);
  const slot = new ListenerSlot(target, clock, 500, () => undefined);
  slot.set(true);
  slot.set(false);
  await settle();
  expect(log).toEqual(["open", "close"]);
  expect(slot.isOpen()).toBe(false);
  expect(clock.pending()).toBe(0);
});
