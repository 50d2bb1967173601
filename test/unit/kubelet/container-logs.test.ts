/**
 * Which log `kubectl logs` reads (Kubernetes' validateContainerLogStatus over the container's
 * record) and how tailLines / limitBytes cut it; the kubelet's bound on followed logs.
 */
import { describe, expect, it } from "vitest";
import { limitBytes, logSource, tailLines } from "../../../actors/kubelet/container-logs.ts";
import { LogFollowers } from "../../../actors/kubelet/log-followers.ts";
import type { ContainerRecord, ContainerState } from "../../../actors/kubelet/pod-status.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

const handle = { id: "u/c/1", podUid: "u", containerName: "c", pid: 1, startedAtMs: 0 };
const terminated: ContainerState = {
  terminated: { exitCode: 1, reason: "Error", startedAt: "", finishedAt: "" },
};
const record = (r: Partial<ContainerRecord>) => ({
  name: "c",
  handle: null,
  restartCount: 0,
  state: { waiting: { reason: "ContainerCreating" } } as ContainerState,
  lastState: null,
  ...r,
});

describe("which attempt a log request reads", () => {
  it("running: the current attempt, still running; previous: the one before", () => {
    const c = record({
      handle,
      restartCount: 2,
      state: { running: { startedAt: "" } },
      lastState: terminated,
    });
    expect(logSource(c, "p", false)).toEqual({ attempt: 2, running: true });
    expect(logSource(c, "p", true)).toEqual({ attempt: 1, running: false });
  });

  it("waiting to restart: both the current and the previous log are the last run's", () => {
    const c = record({
      restartCount: 2,
      state: { waiting: { reason: "CrashLoopBackOff" } },
      lastState: terminated,
    });
    expect(logSource(c, "p", false)).toEqual({ attempt: 2, running: false });
    expect(logSource(c, "p", true)).toEqual({ attempt: 2, running: false });
  });

  it("no previous run: Kubernetes' message", () => {
    const c = record({ handle, state: { running: { startedAt: "" } } });
    expect(logSource(c, "web", true)).toEqual({
      refused: 'previous terminated container "c" in pod "web" not found',
    });
  });

  it("never started: waiting to start, with the reason Kubernetes gives", () => {
    expect(
      logSource(record({ state: { waiting: { reason: "ErrImagePull" } } }), "p", false),
    ).toEqual({
      refused: `container "c" in pod "p" is waiting to start: image can't be pulled`,
    });
    expect(logSource(record({}), "p", false)).toEqual({
      refused: `container "c" in pod "p" is waiting to start: ContainerCreating`,
    });
  });
});

describe("tailLines and limitBytes", () => {
  it("tailLines keeps the last lines; a final newline ends a line", () => {
    expect(tailLines("a\nb\nc\n", 2)).toBe("b\nc\n");
    expect(tailLines("a\nb\nc", 2)).toBe("b\nc");
    expect(tailLines("a\nb\n", 5)).toBe("a\nb\n");
    expect(tailLines("a\nb\n", 0)).toBe("");
    expect(tailLines("", 3)).toBe("");
  });

  it("limitBytes keeps the first bytes, never half a character", () => {
    expect(limitBytes("hello", 3)).toBe("hel");
    expect(limitBytes("hello", 10)).toBe("hello");
    expect(limitBytes("aé", 2)).toBe("a"); // é is two bytes
    expect(limitBytes("aé", 3)).toBe("aé");
  });
});

describe("followed logs per kubelet", () => {
  const limits = { maxLogFollowers: 2, logFollowerIdleMs: 1_000 };

  it("refuses a follower past the limit; a released or idle one frees its slot", () => {
    const clock = new ManualClock();
    const followers = new LogFollowers(clock, limits);
    expect(followers.admit("a")).toBe(true);
    expect(followers.admit("b")).toBe(true);
    expect(followers.admit("a")).toBe(true); // a poll of a known stream
    expect(followers.admit("c")).toBe(false);
    followers.release("a");
    expect(followers.admit("c")).toBe(true);
    expect(followers.count()).toBe(2);
    clock.advance(600);
    expect(followers.admit("c")).toBe(true); // c polls, b does not
    clock.advance(600);
    expect(followers.count()).toBe(1); // b went idle
    expect(followers.admit("d")).toBe(true);
  });
});
