/**
 * xstate's built-in event types, shortened for people: `xstate.after.tickInterval.raftRole.clock`
 * → `after tickInterval`, `xstate.done.actor.0.pod.pending.preparing` → `done: preparing`.
 */
export function eventName(type: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]}`;
  const settled = /^xstate\.(done|error)\.(actor|state)\.(.+)$/.exec(type);
  if (settled) return `${settled[1]}: ${settled[3]?.split(".").pop()}`;
  return type;
}
