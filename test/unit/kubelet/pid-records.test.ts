/**
 * The pid files a kubelet's process runtime leaves in its root dir, as a restarted kubelet and
 * `bosun down` read them: every record found, and a file that is torn, half-written or not the
 * record its path names is reported as such (null), never trusted.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type PidRecord,
  parsePidRecord,
  pidFilePath,
  readPidFiles,
} from "../../../actors/kubelet/pid-records.ts";

const root = mkdtempSync(join(tmpdir(), "bosun-pid-records-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function record(podUid: string, containerName: string, pid: number): PidRecord {
  return {
    id: `${podUid}/${containerName}/${pid}.1`,
    podUid,
    containerName,
    attempt: 0,
    pid,
    procStart: "1234",
    bootId: "boot-a",
    startedAtMs: 1,
    podIP: "127.200.0.2",
    image: "bosun/echo",
    argv: ["node", "echo.mjs"],
    podNamespace: "default",
    podName: "web-1",
  };
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

describe("readPidFiles", () => {
  it("finds every container's record under pods/<uid>/pids/", () => {
    const dir = join(root, "found");
    write(pidFilePath(dir, "uid-a", "web"), JSON.stringify(record("uid-a", "web", 100)));
    write(pidFilePath(dir, "uid-a", "side"), JSON.stringify(record("uid-a", "side", 101)));
    write(pidFilePath(dir, "uid-b", "web"), JSON.stringify(record("uid-b", "web", 200)));
    mkdirSync(join(dir, "pods", "uid-c"), { recursive: true }); // a pod with no container running

    const { podUids, files } = readPidFiles(dir);
    expect(podUids.sort()).toEqual(["uid-a", "uid-b", "uid-c"]);
    expect(files.map((f) => f.record?.pid).sort()).toEqual([100, 101, 200]);
    expect(files.every((f) => f.path === pidFilePath(dir, f.podUid, f.record!.containerName))).toBe(
      true,
    );
  });

  it("reports torn, half-written and misplaced files as no record", () => {
    const dir = join(root, "bad");
    write(pidFilePath(dir, "uid-a", "torn"), '{"id":"uid-a/torn/1');
    // a write cut short before its rename: `<container>.pid.tmp`
    write(`${pidFilePath(dir, "uid-a", "web")}.tmp`, JSON.stringify(record("uid-a", "web", 100)));
    // a record copied into another pod's dir, or under another container's name
    write(pidFilePath(dir, "uid-b", "web"), JSON.stringify(record("uid-a", "web", 100)));
    write(pidFilePath(dir, "uid-c", "other"), JSON.stringify(record("uid-c", "web", 300)));

    const { files } = readPidFiles(dir);
    expect(files).toHaveLength(4);
    expect(files.every((f) => f.record === null)).toBe(true);
  });

  it("a kubelet that never ran pods has none", () => {
    expect(readPidFiles(join(root, "missing"))).toEqual({ podUids: [], files: [] });
  });

  it("refuses a pod uid that could name a path outside the pods dir", () => {
    expect(() => pidFilePath(root, "../x", "web")).toThrow(/bad pod uid/);
  });
});

describe("parsePidRecord", () => {
  it("accepts the records of kubelets that did not write the pod's name yet", () => {
    const { podNamespace: _ns, podName: _name, ...older } = record("uid-a", "web", 100);
    expect(parsePidRecord(JSON.stringify(older))).toEqual(older);
  });

  it("rejects a record with a field of the wrong type, or no positive pid", () => {
    const good = record("uid-a", "web", 100);
    expect(parsePidRecord(JSON.stringify({ ...good, podName: 7 }))).toBeNull();
    expect(parsePidRecord(JSON.stringify({ ...good, pid: 0 }))).toBeNull();
    expect(parsePidRecord(JSON.stringify({ ...good, procStart: 1234 }))).toBeNull();
    expect(parsePidRecord("null")).toBeNull();
  });
});
