import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../../transport/backoff.ts";
import {
  DEFAULT_TRANSPORT_LIMITS,
  httpServerOptions,
  resolveLimits,
} from "../../../transport/limits.ts";

describe("transport limits", () => {
  it("defaults to 4 MiB frames and 16 MiB of queue per peer", () => {
    expect(resolveLimits()).toEqual(DEFAULT_TRANSPORT_LIMITS);
    expect(DEFAULT_TRANSPORT_LIMITS.maxFrameBytes).toBe(4 * 1024 * 1024);
    expect(DEFAULT_TRANSPORT_LIMITS.maxQueuedBytesPerPeer).toBe(16 * 1024 * 1024);
  });

  it("fails loudly on nonsensical overrides", () => {
    expect(() => resolveLimits({ maxFrameBytes: 0 })).toThrow(/maxFrameBytes/);
    expect(() => resolveLimits({ backoffJitter: 1 })).toThrow(/backoffJitter/);
    expect(() => resolveLimits({ backoffInitialMs: 500, backoffMaxMs: 100 })).toThrow(
      /backoffMaxMs/,
    );
    expect(() => resolveLimits({ maxFrameBytes: 10, maxQueuedBytesPerPeer: 5 })).toThrow(
      /maxQueued/,
    );
    // Node itself refuses a header timeout longer than the request's
    expect(() =>
      resolveLimits({ httpHeadersTimeoutMs: 5_000, httpRequestTimeoutMs: 1_000 }),
    ).toThrow(/httpRequestTimeoutMs/);
  });

  it("gives the node's HTTP server its slow-client timeouts, checked at least as often as they fire", () => {
    expect(httpServerOptions(resolveLimits())).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      connectionsCheckingInterval: 1_000,
    });
    const quick = resolveLimits({ httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 600 });
    expect(httpServerOptions(quick).connectionsCheckingInterval).toBe(300);
  });
});

describe("backoff delay", () => {
  const policy = { initialMs: 50, maxMs: 2000, jitter: 0.2 };

  it("doubles per attempt up to the cap when there is no jitter", () => {
    const noJitter = { ...policy, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelayMs(a, noJitter, 0.5))).toEqual([
      50, 100, 200, 400, 800, 1600, 2000, 2000,
    ]);
    expect(backoffDelayMs(10_000, noJitter, 0.5)).toBe(2000);
  });

  it("takes at most `jitter` of the delay off, never adding to it", () => {
    expect(backoffDelayMs(3, policy, 0)).toBe(200);
    expect(backoffDelayMs(3, policy, 0.999999)).toBe(160);
    expect(backoffDelayMs(100, policy, 0)).toBe(2000);
  });
});
