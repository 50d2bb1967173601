import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import {
  measureCpu,
  peakRssMiBOf,
  processCpuMs,
  rssMiBOf,
  totalCpuMs,
} from "../../bench/proc-usage.ts";
import { waitFor } from "../../support/wait.ts";

/** The benchmarks' /proc readings, checked against processes whose cost is known. */
const children: number[] = [];

afterEach(() => {
  for (const pid of children.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** A child that spins on the CPU for `ms`, then exits. */
function spinner(ms: number): Promise<number> {
  const child = spawn(process.execPath, [
    "-e",
    `const end = Date.now() + ${ms}; while (Date.now() < end) {}`,
  ]);
  if (child.pid === undefined) throw new Error("spawn failed");
  children.push(child.pid);
  return new Promise((resolve) => child.once("spawn", () => resolve(child.pid as number)));
}

/** Burns `ms` of this process's own CPU time (not wall time: the machine is shared). */
function spinOwnCpu(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe("CPU from /proc/<pid>/stat", () => {
  it("counts a spinning process's CPU time, and a sleeping one's not", async () => {
    const busy = await spinner(3_000);
    const idle = spawn(process.execPath, ["-e", "setTimeout(() => {}, 3000)"]);
    children.push(idle.pid as number);
    const idleBefore = processCpuMs(idle.pid as number);
    const before = processCpuMs(busy);
    // on a shared machine the spinner gets the CPU when it gets it: wait until it has had 300 ms
    await waitFor(
      "the spinner to use 300 ms of CPU",
      () => processCpuMs(busy) - before >= 300,
      20_000,
    );
    expect(processCpuMs(idle.pid as number) - idleBefore).toBeLessThan(100);
    expect(totalCpuMs([busy, idle.pid as number])).toBeGreaterThanOrEqual(
      processCpuMs(busy) + processCpuMs(idle.pid as number) - 10,
    );
  });

  it("is NaN for a process that is gone", () => {
    expect(processCpuMs(2 ** 22 + 12_345)).toBeNaN();
    expect(peakRssMiBOf(2 ** 22 + 12_345)).toBeNaN();
  });

  it("measureCpu splits this process's CPU from the servers'", async () => {
    const server = await spinner(5_000);
    const { result, clientCpuMs, serverCpuMs } = await measureCpu([server], async () => {
      spinOwnCpu(100);
      const before = processCpuMs(server);
      await waitFor(
        "the server to use 300 ms of CPU",
        () => processCpuMs(server) - before >= 300,
        20_000,
      );
      return 42;
    });
    expect(result).toBe(42);
    expect(clientCpuMs).toBeGreaterThanOrEqual(100);
    // /proc counts in clock ticks (10 ms)
    expect(serverCpuMs).toBeGreaterThanOrEqual(290);
  });
});

describe("resident memory from /proc/<pid>/status", () => {
  it("reads this process's resident set, and its peak at least as high", () => {
    const held = Buffer.alloc(64 * 1024 * 1024, 1); // touched: resident
    const rss = rssMiBOf(process.pid);
    expect(rss).toBeGreaterThan(64);
    expect(peakRssMiBOf(process.pid)).toBeGreaterThanOrEqual(rss);
    expect(Math.abs(rss - process.memoryUsage().rss / 2 ** 20)).toBeLessThan(16);
    expect(held.length).toBe(64 * 1024 * 1024);
  });
});
