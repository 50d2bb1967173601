/**
 * The page's time: the browser's wall clock and timers, kept to this file as the node's are to
 * actors/system/clock.ts, so that the rest of the page reads as logic.
 */
export const browserClock = {
  wallMs: (): number => Date.now(),
  nowMs: (): number => performance.now(),
  after(delayMs: number, fn: () => void): () => void {
    const id = setTimeout(fn, delayMs);
    return () => clearTimeout(id);
  },
  every(periodMs: number, fn: () => void): () => void {
    const id = setInterval(fn, periodMs);
    return () => clearInterval(id);
  },
};

/** `12:03:04.123` in local time, for event logs. */
export function clockTime(atMs: number): string {
  const d = new Date(atMs);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `3s ago`, `4m ago` — how old a last event is. */
export function ago(atMs: number, nowMs: number): string {
  const s = Math.max(0, Math.round((nowMs - atMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}
