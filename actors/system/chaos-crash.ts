/**
 * Actors that opt into chaos testing handle this event with the `crashForChaos` action: it
 * throws from inside the actor, exactly as a bug would, so supervision is exercised for real.
 * The node actor sends it only when the process runs with faults enabled.
 */
export const CHAOS_CRASH_EVENT = "chaos.crash";

export function crashForChaos(): never {
  throw new Error("crashed on purpose by chaos.crash");
}
