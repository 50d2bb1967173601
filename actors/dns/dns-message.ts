/**
 * From query bytes to response bytes, with dns-packet doing every encode and decode (the wire
 * format is never hand-rolled). Pure: the server (dns-server.ts) owns the sockets.
 *
 * - A packet that does not decode, is a response, or is larger than a query can be is dropped:
 *   there is no trustworthy ID to answer (RFC 1035 leaves it to the server; BIND drops too).
 * - A decoded query with other than exactly one question or a non-QUERY opcode gets FORMERR or
 *   NOTIMP-like REFUSED, so a client stops waiting.
 * - A UDP response longer than the client may receive (512 bytes, or its EDNS buffer up to
 *   `maxUdpResponseBytes`) is sent as the question with TC set and no records (RFC 2181 §9): the
 *   client asks again over TCP, where the answer is complete.
 */
import dnsPacket, { type Answer, type DecodedPacket, type Question } from "dns-packet";
import type { DnsLimits } from "./limits.ts";
import { RCODE, type Rcode } from "./resolve.ts";

export type ParsedQuery =
  | { kind: "query"; packet: DecodedPacket; question: Question }
  | { kind: "error"; packet: DecodedPacket; rcode: Rcode }
  | { kind: "drop"; reason: string };

export function parseQuery(bytes: Buffer, limits: DnsLimits): ParsedQuery {
  if (bytes.length > limits.maxQueryBytes) return { kind: "drop", reason: "oversized" };
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(bytes);
  } catch {
    return { kind: "drop", reason: "malformed" };
  }
  if (packet.type !== "query") return { kind: "drop", reason: "not a query" };
  const opcode = (packet as DecodedPacket & { opcode?: string }).opcode;
  if (opcode !== undefined && opcode !== "QUERY")
    return { kind: "error", packet, rcode: "REFUSED" };
  const questions = packet.questions ?? [];
  const question = questions[0];
  if (questions.length !== 1 || question === undefined)
    return { kind: "error", packet, rcode: "FORMERR" };
  return { kind: "query", packet, question };
}

/** How many bytes a UDP response to `query` may have: 512, or its EDNS buffer (RFC 6891 §6.2.5). */
export function udpLimitFor(query: DecodedPacket, limits: DnsLimits): number {
  const opt = (query.additionals ?? []).find((a) => a.type === "OPT");
  const advertised = opt !== undefined && "udpPayloadSize" in opt ? Number(opt.udpPayloadSize) : 0;
  return Math.max(limits.classicUdpBytes, Math.min(advertised, limits.maxUdpResponseBytes));
}

export interface ResponseContent {
  rcode: Rcode;
  answers: Answer[];
  additionals: Answer[];
  authorities: Answer[];
  authoritative: boolean;
}

/**
 * The response to `query`; `maxBytes` is the UDP limit, or null over TCP. Truncated responses
 * keep the question and drop every record.
 */
export function encodeResponse(
  query: DecodedPacket,
  content: ResponseContent,
  maxBytes: number | null,
): Buffer {
  const rd = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
  const flags =
    rd |
    dnsPacket.RECURSION_AVAILABLE |
    (content.authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
    RCODE[content.rcode];
  const base = { type: "response" as const, id: query.id ?? 0, questions: query.questions ?? [] };
  const full = dnsPacket.encode({
    ...base,
    flags,
    answers: content.answers,
    additionals: content.additionals,
    authorities: content.authorities,
  });
  if (maxBytes === null || full.length <= maxBytes) return full;
  return dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE });
}

/** An error response (FORMERR, SERVFAIL, REFUSED) echoing the question. */
export function encodeError(query: DecodedPacket, rcode: Rcode): Buffer {
  return encodeResponse(
    query,
    { rcode, answers: [], additionals: [], authorities: [], authoritative: false },
    null,
  );
}
