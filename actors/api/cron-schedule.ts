/**
 * CronJob schedules as Kubernetes parses them (`cron.ParseStandard` of robfig/cron v3): five
 * fields — minute, hour, day of month, month, day of week — each `*`, `?`, a value, a range
 * `a-b`, a step `*\/n` or `a-b/n`, or a comma list (months and weekdays also by name), or a
 * descriptor: `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`,
 * `@every <duration>` (Go's `1h30m`, `90s`: how a CronJob runs more often than once a minute).
 * When both day fields are restricted, a day matching either runs (cron's rule). Times are UTC.
 * Pure.
 */

export interface CronSchedule {
  /** The first activation strictly after `afterMs` (wall ms), or null if none within 5 years. */
  next(afterMs: number): number | null;
}

export class CronParseError extends Error {}

const MINUTE_MS = 60_000;
/** robfig gives up after five years of searching: a schedule like `0 0 30 2 *` never fires. */
const MAX_SEARCH_YEARS = 5;

interface Field {
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  {
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

const DESCRIPTORS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function parseDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
    throw new CronParseError(`failed to parse duration ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNIT_MS[p[2] as string] ?? 0), 0);
}

function fieldValue(text: string, field: Field): number {
  const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + field.min;
  if (!/^\d+$/.test(text)) throw new CronParseError(`failed to parse int from ${text}`);
  return Number(text);
}

/** The values one field allows, and whether it was `*` or `?` (unrestricted). */
function parseField(text: string, field: Field): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  for (const part of text.split(",")) {
    const [range = "", stepText] = part.split("/");
    let lo: number;
    let hi: number;
    if (range === "*" || range === "?") {
      lo = field.min;
      hi = field.max;
      if (stepText === undefined) star = true;
    } else if (range.includes("-")) {
      const [a = "", b = ""] = range.split("-");
      lo = fieldValue(a, field);
      hi = fieldValue(b, field);
    } else {
      lo = fieldValue(range, field);
      hi = stepText === undefined ? lo : field.max;
    }
    const step = stepText === undefined ? 1 : fieldValue(stepText, { min: 1, max: Infinity });
    if (lo < field.min || hi > field.max || lo > hi || step < 1)
      throw new CronParseError(`end of range (${hi}) above maximum (${field.max}): ${part}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
}

class FieldSchedule implements CronSchedule {
  constructor(private readonly fields: { values: Set<number>; star: boolean }[]) {}

  private dayMatches(d: Date): boolean {
    const dom = this.fields[2] as { values: Set<number>; star: boolean };
    const dow = this.fields[4] as { values: Set<number>; star: boolean };
    const domOk = dom.values.has(d.getUTCDate());
    const dowOk = dow.values.has(d.getUTCDay());
    // cron's rule: with both restricted, either one; otherwise both (a `*` always matches)
    return dom.star || dow.star ? domOk && dowOk : domOk || dowOk;
  }

  next(afterMs: number): number | null {
    const [minutes, hours, , months] = this.fields as { values: Set<number> }[];
    const d = new Date(Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
    const limit = d.getUTCFullYear() + MAX_SEARCH_YEARS;
    while (d.getUTCFullYear() <= limit) {
      if (!months?.values.has(d.getUTCMonth() + 1)) {
        d.setUTCMonth(d.getUTCMonth() + 1, 1);
        d.setUTCHours(0, 0, 0, 0);
        continue;
      }
      if (!this.dayMatches(d)) {
        d.setUTCDate(d.getUTCDate() + 1);
        d.setUTCHours(0, 0, 0, 0);
        continue;
      }
      if (!hours?.values.has(d.getUTCHours())) {
        d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
        continue;
      }
      if (!minutes?.values.has(d.getUTCMinutes())) {
        d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
        continue;
      }
      return d.getTime();
    }
    return null;
  }
}

class EverySchedule implements CronSchedule {
  constructor(private readonly everyMs: number) {}
  next(afterMs: number): number {
    // robfig's ConstantDelaySchedule: whole seconds, at least one
    return Math.floor(afterMs / 1000) * 1000 + this.everyMs;
  }
}

export function parseCronSchedule(text: string): CronSchedule {
  const spec = text.trim();
  if (spec.startsWith("TZ=") || spec.startsWith("CRON_TZ="))
    throw new CronParseError("CRON_TZ or TZ used in schedule is not supported, use timeZone");
  if (spec.startsWith("@every ")) {
    const ms = parseDurationMs(spec.slice("@every ".length).trim());
    return new EverySchedule(Math.max(1000, Math.floor(ms / 1000) * 1000));
  }
  const expanded = DESCRIPTORS[spec.toLowerCase()] ?? spec;
  if (expanded.startsWith("@")) throw new CronParseError(`unrecognized descriptor: ${spec}`);
  const parts = expanded.split(/\s+/);
  if (parts.length !== FIELDS.length)
    throw new CronParseError(`expected exactly 5 fields, found ${parts.length}: ${spec}`);
  return new FieldSchedule(parts.map((p, i) => parseField(p, FIELDS[i] as Field)));
}
