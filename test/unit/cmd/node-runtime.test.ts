import { afterEach, describe, expect, it } from "vitest";
import {
  BOSUN_DIST,
  BOSUN_TS,
  bosunArgv,
  isBosunEntry,
  runningBundle,
} from "../../../cmd/node-runtime.ts";
import { planCluster } from "../../../cmd/up.ts";

/** Which program the nodes a process starts run, and how `bosun up` passes --no-kubelet on. */
const saved = process.env.BOSUN_NODE_RUNTIME;
afterEach(() => {
  if (saved === undefined) delete process.env.BOSUN_NODE_RUNTIME;
  else process.env.BOSUN_NODE_RUNTIME = saved;
});

describe("node runtime", () => {
  it("a process running the sources starts nodes from the sources through tsx", () => {
    delete process.env.BOSUN_NODE_RUNTIME;
    expect(runningBundle()).toBe(false);
    expect(bosunArgv(["node", "--id", "n1"])).toEqual([
      "--import",
      "tsx",
      BOSUN_TS,
      "node",
      "--id",
      "n1",
    ]);
  });

  it("BOSUN_NODE_RUNTIME=dist starts them from dist/bosun.js, without tsx", () => {
    process.env.BOSUN_NODE_RUNTIME = "dist";
    const argv = bosunArgv(["node"]);
    expect(argv).toEqual([BOSUN_DIST, "node"]);
    expect(argv).not.toContain("tsx");
  });

  it("recognises both entry points in a process's argv, and nothing else", () => {
    expect(isBosunEntry(["/usr/bin/node", "--import", "tsx", BOSUN_TS, "node"])).toBe(true);
    expect(isBosunEntry(["/usr/bin/node", BOSUN_DIST, "node"])).toBe(true);
    expect(isBosunEntry(["/usr/bin/node", "/srv/other.js", "node"])).toBe(false);
  });
});

describe("bosun up --no-kubelet", () => {
  const options = {
    servers: "3",
    baseIp: "127.0.0.11",
    port: "7100",
    runDir: "/tmp/x",
    faults: false,
    foreground: false,
    timeoutMs: "1000",
    name: "t",
  };

  it("passes --no-kubelet to every server, and nothing when kubelets run", () => {
    expect(planCluster({ ...options, kubelet: false }, "/tmp/x").nodeFlags).toContain(
      "--no-kubelet",
    );
    expect(planCluster({ ...options, kubelet: true }, "/tmp/x").nodeFlags).not.toContain(
      "--no-kubelet",
    );
  });
});
