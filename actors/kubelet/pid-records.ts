/**
 * The pid files the process runtime writes, one per running container, under the kubelet's root
 * dir:
 *
 *   rootDir/pods/<uid>/pids/<container>.pid         a PidRecord (JSON) while it runs
 *
 * Two readers: a restarted kubelet, which re-adopts the containers its predecessor left running,
 * and the launcher (`bosun down`, `status`, the chaos harness), which stops the pods of a node
 * that died without stopping them. Both trust a record only after `isSameProcess` proves its pid
 * still names the process it describes.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ProcessIdentity } from "./process-identity.ts";

/**
 * What a pid file holds: who the process is (to prove it is still the one we started) and what
 * a restarted kubelet needs to adopt it (its handle, attempt, pod IP, and what it runs).
 */
export interface PidRecord extends ProcessIdentity {
  id: string;
  podUid: string;
  containerName: string;
  attempt: number;
  startedAtMs: number;
  podIP: string | null;
  image: string;
  argv: string[];
  /** For people listing pod processes (`bosun status`); absent in records of older kubelets. */
  podNamespace?: string;
  podName?: string;
}

/** One pid file found under a kubelet's root dir. */
export interface PidFile {
  podUid: string;
  path: string;
  /** Null when the file is torn, not a record, or not the record its path says it is. */
  record: PidRecord | null;
}

export function podsDir(rootDir: string): string {
  return join(rootDir, "pods");
}

export function pidFilePath(rootDir: string, podUid: string, containerName: string): string {
  if (!isPodUid(podUid)) throw new Error(`bad pod uid ${podUid}`);
  return join(podsDir(rootDir), podUid, "pids", `${containerName}.pid`);
}

/** A pod uid is a directory name: nothing that could climb out of the pods dir. */
export function isPodUid(name: string): boolean {
  return /^[A-Za-z0-9-]+$/.test(name);
}

/**
 * Every pod dir and pid file under a kubelet's root dir (none when it has none). Synchronous:
 * the chaos harness's last-resort kill runs in a process `exit` handler, which cannot await.
 */
export function readPidFiles(rootDir: string): { podUids: string[]; files: PidFile[] } {
  const podUids = listDir(podsDir(rootDir)).filter(isPodUid);
  const files: PidFile[] = [];
  for (const podUid of podUids) {
    const pidsDir = join(podsDir(rootDir), podUid, "pids");
    for (const name of listDir(pidsDir)) {
      const path = join(pidsDir, name);
      let text = "";
      try {
        text = readFileSync(path, "utf8");
      } catch {
        // removed since the listing: its container exited
      }
      const record = parsePidRecord(text);
      // a `<container>.pid.tmp` (a write cut short) is not the record of its name either
      const matches =
        record !== null && record.podUid === podUid && name === `${record.containerName}.pid`;
      files.push({ podUid, path, record: matches ? record : null });
    }
  }
  return { podUids, files };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A pid file's record, or null when it is torn or not one. */
export function parsePidRecord(text: string): PidRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const ok =
    typeof r.id === "string" &&
    typeof r.podUid === "string" &&
    typeof r.containerName === "string" &&
    typeof r.attempt === "number" &&
    typeof r.pid === "number" &&
    r.pid > 0 &&
    typeof r.procStart === "string" &&
    (typeof r.bootId === "string" || r.bootId === null) &&
    typeof r.startedAtMs === "number" &&
    (typeof r.podIP === "string" || r.podIP === null) &&
    typeof r.image === "string" &&
    Array.isArray(r.argv) &&
    r.argv.every((a) => typeof a === "string") &&
    (r.podNamespace === undefined || typeof r.podNamespace === "string") &&
    (r.podName === undefined || typeof r.podName === "string");
  return ok ? (r as unknown as PidRecord) : null;
}
