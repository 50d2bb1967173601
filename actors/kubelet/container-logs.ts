/**
 * Which log a `kubectl logs` request reads and how its text is cut, by Kubernetes' rules: the
 * kubelet's validateContainerLogStatus picks the container run (current or `previous`) from the
 * container's status; PodLogOptions' tailLines keeps the last lines and limitBytes the first
 * bytes. Pure: the kubelet reads the file, these decide.
 */
import type { ContainerRecord } from "./pod-status.ts";

/** The attempt whose log to read, and whether that attempt still runs (a follower goes on). */
export type LogSource = { attempt: number; running: boolean } | { refused: string };

/** The attempt running now, or null (the container is not running). */
export function runningAttempt(c: Pick<ContainerRecord, "handle" | "restartCount">): number | null {
  return c.handle !== null ? c.restartCount : null;
}

/**
 * Kubernetes' validateContainerLogStatus over bosun's record: restartCount is the attempt that
 * started last (attempts count from 0). A container waiting to restart shows its last run as
 * lastState, so there both the current and the previous log are that run's.
 */
export function logSource(
  c: Pick<ContainerRecord, "name" | "handle" | "restartCount" | "state" | "lastState">,
  pod: string,
  previous: boolean,
): LogSource {
  const lastTerminated = c.lastState !== null && "terminated" in c.lastState;
  const waiting = "waiting" in c.state;
  if (previous) {
    const attempt = waiting ? c.restartCount : c.restartCount - 1;
    if (!lastTerminated || attempt < 0)
      return { refused: `previous terminated container "${c.name}" in pod "${pod}" not found` };
    return { attempt, running: false };
  }
  if ("running" in c.state || "terminated" in c.state || lastTerminated)
    return { attempt: c.restartCount, running: runningAttempt(c) === c.restartCount };
  const reason = "waiting" in c.state ? c.state.waiting.reason : "";
  const why =
    reason === "ErrImagePull"
      ? "image can't be pulled"
      : reason === "ImagePullBackOff"
        ? "trying and failing to pull image"
        : reason;
  return { refused: `container "${c.name}" in pod "${pod}" is waiting to start: ${why}` };
}

/** The last `lines` lines of `text` (Kubernetes' tailLines; a final newline ends a line). */
export function tailLines(text: string, lines: number): string {
  if (lines <= 0) return "";
  let end = text.endsWith("\n") ? text.length - 1 : text.length;
  for (let seen = 0; end > 0; seen++) {
    const newline = text.lastIndexOf("\n", end - 1);
    if (newline < 0) return text;
    if (seen + 1 === lines) return text.slice(newline + 1);
    end = newline;
  }
  return text;
}

/** At most `bytes` bytes of `text` from its start, never cutting a character in two. */
export function limitBytes(text: string, bytes: number): string {
  const buffer = Buffer.from(text, "utf8");
  if (buffer.length <= bytes) return text;
  const cut = buffer.subarray(0, Math.max(0, bytes));
  return cut.subarray(0, completeUtf8Length(cut)).toString("utf8");
}

/** The length of `buffer` without a UTF-8 character cut off at its end. */
export function completeUtf8Length(buffer: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, buffer.length); back++) {
    const byte = buffer[buffer.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? buffer.length - back : buffer.length;
  }
  return buffer.length;
}

/** Bytes at the start of `buffer` that continue a character begun before it. */
export function leadingContinuationBytes(buffer: Uint8Array): number {
  let i = 0;
  while (i < buffer.length && i < 3 && (buffer[i]! & 0xc0) === 0x80) i++;
  return i;
}
