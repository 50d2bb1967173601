/**
 * A duration flag as kube-apiserver spells them (Go's `time.ParseDuration`: `5m`, `90s`,
 * `1h30m`, `250ms`), or a bare number of milliseconds as bosun's other `--*-ms` flags take.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Longer than any interval a cluster means (a week); a typo such as `5000h` is refused. */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

export function parseDurationMs(value: string, flag: string): number {
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text);
  } else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
      throw new Error(`${flag} must be a duration (5m, 30s, 1h30m, 250ms) or ms, got ${value}`);
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] as string] as number), 0);
  }
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS)
    throw new Error(`${flag} must be at most ${MAX_DURATION_MS} ms, got ${value}`);
  return Math.round(ms);
}
