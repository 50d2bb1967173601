/**
 * Containers in their sandbox (pod-sandbox.ts, cgroups.ts) with real processes, when this runs
 * as root with util-linux (as here and in CI; skipped otherwise): volumes at their mountPath,
 * subPath and readOnly; the pod's hostname, /etc/hosts and service account directory; a /tmp
 * of its own that exec (nsenter) sees; the container's own exit code through INIT; a SIGTERM
 * reaching a handler; containers of a pod with shareProcessNamespace seeing each other's
 * processes; and a memory limit exceeded ending in an OOM kill.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { podHostsFile, shellQuote } from "../../../actors/kubelet/pod-sandbox.ts";
import { killGroup } from "../../../actors/kubelet/process-identity.ts";
import { canSandbox, ProcessRuntime } from "../../../actors/kubelet/process-runtime.ts";
import type { ContainerExit, ContainerSpec } from "../../../actors/kubelet/runtime.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { waitFor } from "../../support/wait.ts";

describe("sandbox text", () => {
  it("quotes words for /bin/sh and writes Kubernetes' hosts file", () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(podHostsFile("127.200.0.9", "web")).toContain("127.200.0.9\tweb\n");
  });
});

describe.skipIf(!canSandbox())("containers in their sandbox", () => {
  const root = mkdtempSync(join(tmpdir(), "bosun-sandbox-"));
  const runtime = new ProcessRuntime({
    rootDir: root,
    clock: new SystemClock(),
    logger: pino({ level: "silent" }),
  });
  const volume = join(root, "volume");
  mkdirSync(join(volume, "sub"), { recursive: true });
  writeFileSync(join(volume, "key"), "value\n");
  writeFileSync(join(volume, "sub", "inner"), "inner\n");
  const pids: number[] = [];

  afterAll(async () => {
    for (const pid of pids) killGroup(pid, "SIGKILL");
    await runtime.removePod("uid-sandbox");
    await runtime.removePod("uid-shared");
    rmSync(root, { recursive: true, force: true });
  });

  const spec = (
    name: string,
    argv: string[],
    extra: Partial<ContainerSpec> = {},
  ): ContainerSpec => ({
    podUid: "uid-sandbox",
    podName: "web-0",
    podNamespace: "shop",
    containerName: name,
    image: "busybox",
    command: argv,
    args: [],
    env: { POD_NAME: "web-0" },
    volumeMounts: [
      { name: "config", mountPath: "/etc/config", hostPath: volume, readOnly: true },
      {
        name: "config",
        mountPath: "/data/inner",
        hostPath: volume,
        readOnly: false,
        subPath: "sub",
      },
    ],
    ports: [],
    attempt: 0,
    podIP: "127.200.0.9",
    ...extra,
  });

  const run = async (name: string, script: string, extra: Partial<ContainerSpec> = {}) => {
    const handle = await runtime.startContainer(spec(name, ["sh", "-c", script], extra));
    pids.push(handle.pid);
    const exit = await new Promise<ContainerExit>((resolve) => runtime.onExit(handle, resolve));
    const { text } = await runtime.logs("uid-sandbox", name, {});
    return { exit, text };
  };

  it("sees its volumes at mountPath (subPath, readOnly), its hostname, hosts, resolv.conf and service account", async () => {
    const { exit, text } = await run(
      "look",
      [
        "cat /etc/config/key",
        "cat /data/inner/inner",
        "hostname",
        "grep web-0 /etc/hosts",
        "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo",
        "cat /etc/resolv.conf",
        "touch /etc/config/new 2>/dev/null && echo writable || echo read-only",
        "echo $$",
        "exit 7",
      ].join("; "),
      {
        resolvConf:
          "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 127.96.0.10\noptions ndots:5\n",
      },
    );
    expect(text.split("\n")).toEqual([
      "value",
      "inner",
      "web-0",
      "127.200.0.9\tweb-0",
      "shop",
      "search shop.svc.cluster.local svc.cluster.local cluster.local",
      "nameserver 127.96.0.10",
      "options ndots:5",
      "read-only",
      expect.stringMatching(/^\d+$/),
      "",
    ]);
    expect(exit.exitCode).toBe(7);
  });

  it("has a /tmp of its own, which exec (nsenter) sees; SIGTERM reaches its handler", async () => {
    const handle = await runtime.startContainer(
      spec("tmp", [
        "sh",
        "-c",
        "touch /tmp/healthy-sandbox; trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
      ]),
    );
    pids.push(handle.pid);
    await waitFor("ready", async () =>
      (await runtime.logs("uid-sandbox", "tmp", {})).text.includes("ready"),
    );
    expect(await runtime.exec(handle, ["cat", "/tmp/healthy-sandbox"], 5_000)).toBe(0);
    expect(await runtime.exec(handle, ["test", "-e", "/etc/config/key"], 5_000)).toBe(0);
    expect(existsSync("/tmp/healthy-sandbox")).toBe(false);
    const exit = await runtime.stopContainer(handle, 10_000);
    expect(exit.exitCode).toBe(0);
    expect((await runtime.logs("uid-sandbox", "tmp", {})).text).toContain("got TERM");
  });

  it("shareProcessNamespace: containers see each other's processes under the pod's pause, which goes with the pod", async () => {
    const shared = { podUid: "uid-shared", shareProcessNamespace: true } as const;
    const sleeper = await runtime.startContainer(
      spec("sleeper", ["sh", "-c", "echo up; exec sleep 4242"], shared),
    );
    pids.push(sleeper.pid);
    await waitFor("the sleeper runs", async () =>
      (await runtime.logs("uid-shared", "sleeper", {})).text.includes("up"),
    );
    const look = [
      // the words are built at run time: this script's own text is in /proc too
      'm=bosun; grep -q "$m-pause" /proc/1/cmdline && echo pause-is-pid-1',
      "cat /proc/[0-9]*/comm 2>/dev/null | grep -qx sleep && echo sees-sleeper || echo no-sleeper",
    ].join("; ");
    const peer = await runtime.startContainer(spec("peer", ["sh", "-c", look], shared));
    pids.push(peer.pid);
    await new Promise<ContainerExit>((resolve) => runtime.onExit(peer, resolve));
    expect((await runtime.logs("uid-shared", "peer", {})).text.split("\n")).toEqual([
      "pause-is-pid-1",
      "sees-sleeper",
      "",
    ]);
    // a pod without it: its own pid namespace, the sleeper out of sight
    const { text } = await run("apart", look);
    expect(text.split("\n")).toEqual(["no-sleeper", ""]);

    const pause = readFileSync(join(root, "pods", "uid-shared", "pids", "POD.pid"), "utf8");
    const pausePid = (JSON.parse(pause) as { pid: number }).pid;
    expect(existsSync(`/proc/${pausePid}`)).toBe(true);
    await runtime.removePod("uid-shared");
    await waitFor("the pause process is gone", () => {
      const stat = existsSync(`/proc/${pausePid}/stat`)
        ? readFileSync(`/proc/${pausePid}/stat`, "utf8")
        : "";
      return stat === "" || / [ZX] /.test(stat);
    });
  });

  it("a memory limit exceeded is an OOM kill", async () => {
    const { exit } = await run(
      "hog",
      `exec ${process.execPath} -e "const a=[]; for(;;) a.push(Buffer.alloc(1<<20, 1))"`,
      { limits: { memoryLimitBytes: 64 * 1024 * 1024 } },
    );
    expect(exit).toMatchObject({ exitCode: 137, oomKilled: true });
  });
});
