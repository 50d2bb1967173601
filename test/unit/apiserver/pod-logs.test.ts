/**
 * pods/log in the API server (actors/apiserver/pod-logs.ts): PodLogOptions validated as
 * kube-apiserver does, the container chosen by its rules, and a followed log streamed from
 * repeated kubelet reads on a ManualClock — until there is no more, the kubelet refuses, the
 * byte limit is used up, or the client goes away (then no timer is left and the slot is freed).
 */
import { describe, expect, it } from "vitest";
import {
  followPodLog,
  POD_LOG_FOLLOW_POLL_MS,
  type PodLogRead,
  type PodLogReply,
  type PodLogs,
  parsePodLogOptions,
  podLogContainer,
} from "../../../actors/apiserver/pod-logs.ts";
import { parseRequestOptions } from "../../../actors/apiserver/request-options.ts";
import { ApiError } from "../../../actors/client/errors.ts";
import { ManualClock } from "../../../actors/system/clock.ts";

const statusOf = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    if (error instanceof ApiError) return error.status;
    throw error;
  }
  throw new Error("no error");
};

describe("pods/log options", () => {
  it("reads follow, previous, container, tailLines and limitBytes", () => {
    const q = new URLSearchParams("follow=true&previous=1&container=c&tailLines=2&limitBytes=10");
    expect(parsePodLogOptions(parseRequestOptions(q), "p")).toEqual({
      follow: true,
      previous: true,
      container: "c",
      tailLines: 2,
      limitBytes: 10,
    });
  });

  it("rejects what ValidatePodLogOptions rejects (422) and what does not parse (400)", () => {
    const invalid = statusOf(() =>
      parsePodLogOptions(parseRequestOptions(new URLSearchParams("tailLines=-1")), "p"),
    );
    expect(invalid.code).toBe(422);
    expect(invalid.message).toBe(
      'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
    );
    expect(
      statusOf(() =>
        parsePodLogOptions(parseRequestOptions(new URLSearchParams("limitBytes=0")), "p"),
      ).code,
    ).toBe(422);
    expect(
      statusOf(() =>
        parsePodLogOptions(parseRequestOptions(new URLSearchParams("tailLines=x")), "p"),
      ).code,
    ).toBe(400);
  });

  it("a multi-container pod needs a container name (Kubernetes' 400 and message)", () => {
    const pod = {
      metadata: { name: "two" },
      spec: { containers: [{ name: "a" }, { name: "b" }] },
    };
    const status = statusOf(() => podLogContainer(pod, undefined));
    expect(status.code).toBe(400);
    expect(status.message).toBe(
      "a container name must be specified for pod two, choose one of: [a b]",
    );
    expect(podLogContainer(pod, "b")).toBe("b");
    expect(statusOf(() => podLogContainer(pod, "z")).message).toBe(
      "container z is not valid for pod two",
    );
    expect(
      podLogContainer(
        { metadata: { name: "one" }, spec: { containers: [{ name: "x" }] } },
        undefined,
      ),
    ).toBe("x");
  });
});

/** A kubelet whose log grows by what the test appends; `running` until `exit()`. */
class FakeKubelet implements PodLogs {
  log = "";
  running = true;
  reads: PodLogRead[] = [];
  unfollowed: string[] = [];
  refuse = false;

  async read(request: PodLogRead): Promise<PodLogReply> {
    this.reads.push(request);
    if (this.refuse) return { refused: "NotFound", message: "gone" };
    const bytes = Buffer.from(this.log);
    const from = request.sinceByte ?? 0;
    let text = bytes.subarray(from).toString();
    const cut = request.limitBytes !== undefined && Buffer.byteLength(text) > request.limitBytes;
    if (cut) text = text.slice(0, request.limitBytes);
    return { text, nextByte: bytes.length, attempt: 0, more: !cut && this.running };
  }
  unfollow(_node: string, follower: string): void {
    this.unfollowed.push(follower);
  }
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

function follow(kubelet: FakeKubelet, extra: Partial<PodLogRead> = {}) {
  const clock = new ManualClock();
  const abort = new AbortController();
  const written: string[] = [];
  const first: PodLogRead & { follower: string } = {
    node: "n1",
    namespace: "default",
    pod: "p",
    follower: "f-1",
    ...extra,
  };
  const firstReply = {
    text: kubelet.log,
    nextByte: Buffer.byteLength(kubelet.log),
    attempt: 0,
    more: true,
  };
  let ended = false;
  const done = followPodLog(kubelet, clock, first, firstReply, {
    write: async (t) => {
      written.push(t);
    },
    signal: abort.signal,
  }).then(() => {
    ended = true;
  });
  const poll = async () => {
    clock.advance(POD_LOG_FOLLOW_POLL_MS);
    await flush();
  };
  return { clock, abort, written, done, poll, ended: () => ended };
}

describe("a followed log", () => {
  it("streams what the container writes after the first read, until it exits", async () => {
    const kubelet = new FakeKubelet();
    kubelet.log = "one\n";
    const f = follow(kubelet);
    await f.poll();
    expect(f.written).toEqual([]); // nothing new
    kubelet.log += "two\n";
    await f.poll();
    kubelet.log += "three\n";
    kubelet.running = false;
    await f.poll();
    await f.done;
    expect(f.written).toEqual(["two\n", "three\n"]);
    expect(kubelet.reads.map((r) => r.sinceByte)).toEqual([4, 4, 8]);
    expect(kubelet.reads.every((r) => r.follower === "f-1" && r.attempt === 0)).toBe(true);
    expect(kubelet.unfollowed).toEqual(["f-1"]);
    expect(f.clock.pending()).toBe(0);
  });

  it("a client that goes away stops the polling at once: no timer left, the slot freed", async () => {
    const kubelet = new FakeKubelet();
    const f = follow(kubelet);
    await f.poll();
    expect(f.ended()).toBe(false);
    f.abort.abort();
    await f.done;
    expect(f.clock.pending()).toBe(0);
    expect(kubelet.unfollowed).toEqual(["f-1"]);
    const reads = kubelet.reads.length;
    f.clock.advance(10 * POD_LOG_FOLLOW_POLL_MS);
    await flush();
    expect(kubelet.reads.length).toBe(reads);
  });

  it("ends when the pod leaves its kubelet, and at limitBytes", async () => {
    const gone = new FakeKubelet();
    const f = follow(gone);
    gone.refuse = true;
    await f.poll();
    await f.done;
    expect(gone.unfollowed).toEqual(["f-1"]);

    const limited = new FakeKubelet();
    limited.log = "abc";
    const g = follow(limited, { limitBytes: 5, tailLines: 1 });
    limited.log += "defgh";
    await g.poll();
    await g.done;
    expect(g.written).toEqual(["de"]);
    expect(limited.reads[0]).toMatchObject({ limitBytes: 2, sinceByte: 3 });
    expect(limited.reads[0]?.tailLines).toBeUndefined(); // tailLines is for the first read only
  });
});
