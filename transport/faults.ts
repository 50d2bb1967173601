/**
 * Fault rules for chaos testing (DESIGN §4): pure decisions, no I/O. The mesh asks `decide` once
 * per frame, with `out` when sending to a peer and `in` when receiving from one.
 *
 * Every rule may name a `peer` (omitted: every peer) and a `direction` (omitted: `both`). A
 * drop/duplicate/delay rule with direction `both` is consulted once per frame, on whichever side
 * of this node the frame crosses, so its probability is per message.
 */
export type Direction = "out" | "in";
export type RuleDirection = Direction | "both";

interface RuleScope {
  peer?: string;
  direction?: RuleDirection;
}
export type FaultRule =
  | ({ type: "drop"; probability: number } & RuleScope)
  | ({ type: "delay"; ms: number; jitterMs?: number } & RuleScope)
  | ({ type: "duplicate"; probability: number } & RuleScope)
  | ({ type: "partition" } & RuleScope);

export interface FaultDecision {
  /** Copies to deliver: 0 (dropped or partitioned), 1, or 2 (duplicated). */
  deliver: 0 | 1 | 2;
  delayMs: number;
}

/** Limits on rules from outside, so a chaos command cannot stall a node or bloat every send. */
export const MAX_FAULT_RULES = 64;
export const MAX_FAULT_DELAY_MS = 60_000;

const PASS: FaultDecision = Object.freeze({ deliver: 1, delayMs: 0 });

/**
 * The fate of one frame to/from `peer`. Partitions win over everything; then each matching
 * rule in order. `random` yields floats in [0, 1) (a SeededRandom in tests and chaos runs).
 */
export function decide(
  rules: readonly FaultRule[],
  peer: string,
  direction: Direction,
  random: () => number,
): FaultDecision {
  const matching = rules.filter((r) => appliesTo(r, peer, direction));
  if (matching.length === 0) return PASS;
  if (matching.some((r) => r.type === "partition")) return { deliver: 0, delayMs: 0 };
  let deliver: 0 | 1 | 2 = 1;
  let delayMs = 0;
  for (const rule of matching) {
    switch (rule.type) {
      case "drop":
        if (random() < rule.probability) deliver = 0;
        break;
      case "duplicate":
        if (random() < rule.probability && deliver === 1) deliver = 2;
        break;
      case "delay":
        delayMs += rule.ms + (rule.jitterMs ? Math.floor(random() * (rule.jitterMs + 1)) : 0);
        break;
    }
  }
  return deliver === 0 ? { deliver: 0, delayMs: 0 } : { deliver, delayMs };
}

function appliesTo(rule: FaultRule, peer: string, direction: Direction): boolean {
  if (rule.peer !== undefined && rule.peer !== peer) return false;
  const d = rule.direction ?? "both";
  return d === "both" || d === direction;
}

export class FaultRuleError extends Error {
  override name = "FaultRuleError";
}

/** Validates rules arriving from outside (an admin message, a CLI flag). Throws FaultRuleError. */
export function parseFaultRules(value: unknown): FaultRule[] {
  if (!Array.isArray(value)) throw new FaultRuleError("fault rules must be an array");
  if (value.length > MAX_FAULT_RULES) {
    throw new FaultRuleError(`at most ${MAX_FAULT_RULES} fault rules, got ${value.length}`);
  }
  return value.map((rule, i) => parseRule(rule, `rules[${i}]`));
}

const KEYS: Record<FaultRule["type"], string[]> = {
  drop: ["type", "peer", "direction", "probability"],
  duplicate: ["type", "peer", "direction", "probability"],
  delay: ["type", "peer", "direction", "ms", "jitterMs"],
  partition: ["type", "peer", "direction"],
};

function parseRule(value: unknown, at: string): FaultRule {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FaultRuleError(`${at} must be an object`);
  }
  const r = value as Record<string, unknown>;
  const type = r.type;
  if (type !== "drop" && type !== "duplicate" && type !== "delay" && type !== "partition") {
    throw new FaultRuleError(`${at}.type must be drop, delay, duplicate or partition`);
  }
  for (const key of Object.keys(r)) {
    if (!KEYS[type].includes(key)) throw new FaultRuleError(`${at}: unknown field '${key}'`);
  }
  const scope: RuleScope = {};
  if (r.peer !== undefined) {
    if (typeof r.peer !== "string" || r.peer.length === 0) {
      throw new FaultRuleError(`${at}.peer must be a non-empty node id`);
    }
    scope.peer = r.peer;
  }
  if (r.direction !== undefined) {
    if (r.direction !== "out" && r.direction !== "in" && r.direction !== "both") {
      throw new FaultRuleError(`${at}.direction must be out, in or both`);
    }
    scope.direction = r.direction;
  }
  switch (type) {
    case "drop":
    case "duplicate":
      return { type, probability: probability(r.probability, `${at}.probability`), ...scope };
    case "delay": {
      const rule: FaultRule = { type, ms: delayMs(r.ms, `${at}.ms`), ...scope };
      if (r.jitterMs !== undefined) rule.jitterMs = delayMs(r.jitterMs, `${at}.jitterMs`);
      return rule;
    }
    case "partition":
      return { type, ...scope };
  }
}

function probability(v: unknown, at: string): number {
  if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
    throw new FaultRuleError(`${at} must be a number in [0, 1]`);
  }
  return v;
}

function delayMs(v: unknown, at: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_FAULT_DELAY_MS) {
    throw new FaultRuleError(`${at} must be an integer number of ms in [0, ${MAX_FAULT_DELAY_MS}]`);
  }
  return v;
}
