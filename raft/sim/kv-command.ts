/**
 * The commands simulated clients put in the log, and their encoding as entry data.
 * Every write carries its session (Raft dissertation §6.3) and the time the receiving node
 * assigned at proposal time, which the state machine uses for deterministic session expiry.
 */
export type KvWrite =
  | { op: "put"; key: string; value: string }
  | { op: "delete"; key: string }
  | { op: "cas"; key: string; expected: string | undefined; value: string };

/**
 * `proposal` is unique per proposal (not per retry of a write): the proposing node answers its
 * waiting client only when the entry carrying that id applies. Matching on (session, seq)
 * instead would let a node that is replaying old log (a new member catching up) answer a new
 * request with the result of an old entry that happened to have the same (session, seq).
 */
export type KvCommand =
  | { kind: "register"; proposal: string; client: string; timeMs: number }
  | {
      kind: "write";
      proposal: string;
      client: string;
      session: number;
      seq: number;
      timeMs: number;
      write: KvWrite;
    };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

/** A write's identity for the "applied at most once" invariant. */
export function commandId(client: string, session: number, seq: number): string {
  return `${client}@${session}#${seq}`;
}
