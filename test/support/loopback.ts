import { randomInt } from "node:crypto";

/**
 * A random 127.a.b.c base address for a test's nodes, so concurrent runs (and a developer's own
 * `npm start` on 127.0.0.11) never collide on an address:port.
 */
export function randomLoopbackBase(nodes: number): string {
  return `127.${randomInt(100, 250)}.${randomInt(1, 250)}.${randomInt(1, 250 - nodes)}`;
}

export function nthAddress(base: string, i: number): string {
  const parts = base.split(".").map(Number);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${(parts[3] ?? 0) + i}`;
}
