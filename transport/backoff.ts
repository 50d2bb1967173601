/**
 * Reconnect delay: exponential in the number of consecutive failures, capped, with jitter taken
 * off the top so the cap is a true ceiling and nodes that lost a peer together redial apart.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Fraction in [0, 1) of the delay that is randomized away. */
  jitter: number;
}

/**
 * Delay before redial number `attempt` (1 = first retry): `min(max, initial * 2^(attempt-1))`
 * scaled by `1 - jitter * random`, with `random` in [0, 1).
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: number): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30); // 2^30 already dwarfs any sane cap
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.max(1, Math.round(base * (1 - policy.jitter * random)));
}
