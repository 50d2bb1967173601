/**
 * Forwarding over TCP (upstream.ts): a real local resolver pair on one port, whose UDP side
 * answers every query truncated (TC, no records) and whose TCP side answers it whole.
 * - A UDP client's query whose upstream answer is truncated is asked again over TCP; the whole
 *   answer is passed on when it fits the client's UDP limit, else the truncated one (the client
 *   retries over TCP, RFC 7766 §5).
 * - A TCP client's query goes to the upstream over TCP directly.
 * - Through the server: a client that asked over UDP gets the whole answer that fits.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type Server } from "node:net";
import dnsPacket, { type Answer, type DecodedPacket } from "dns-packet";
import { afterAll, beforeAll, expect, it } from "vitest";
import { isTruncated, Upstream } from "../../../actors/dns/upstream.ts";
import { ZoneRecords } from "../../../actors/dns/zone-records.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { testDnsServer } from "../../support/dns.ts";

const HOST = "127.0.0.1";
const clock = new SystemClock();
let udp: UdpSocket;
let tcp: Server;
let port = 0;
const seen: string[] = [];

/** `many.example.` has 40 A records (~650 bytes: past 512, within an EDNS 1,232 buffer). */
function answersFor(name: string): Answer[] {
  const count = name === "many.example" ? 40 : 1;
  return Array.from({ length: count }, (_, i) => ({
    name,
    type: "A" as const,
    ttl: 60,
    data: `192.0.2.${i + 1}`,
  }));
}

function response(query: DecodedPacket, truncated: boolean): Buffer {
  const name = query.questions?.[0]?.name ?? "";
  return dnsPacket.encode({
    type: "response",
    id: query.id ?? 0,
    flags: truncated ? dnsPacket.TRUNCATED_RESPONSE : 0,
    questions: query.questions ?? [],
    answers: truncated ? [] : answersFor(name),
  });
}

beforeAll(async () => {
  tcp = createServer((socket) => {
    let got = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 2 || got.length < 2 + got.readUInt16BE(0)) return;
      seen.push("tcp");
      const reply = response(dnsPacket.decode(got.subarray(2)), false);
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(reply.length);
      socket.end(Buffer.concat([prefix, reply]));
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((ok) => tcp.listen(0, HOST, ok));
  const address = tcp.address();
  port = typeof address === "object" && address !== null ? address.port : 0;
  udp = createSocket("udp4");
  udp.on("message", (m, from) => {
    seen.push("udp");
    udp.send(response(dnsPacket.decode(m), true), from.port, from.address);
  });
  await new Promise<void>((ok) => udp.bind(port, HOST, ok));
});

afterAll(async () => {
  udp.close();
  await new Promise((ok) => tcp.close(ok));
});

const upstream = () =>
  new Upstream({
    servers: [`${HOST}:${port}`],
    clock,
    timeoutMs: 1_000,
    maxInFlight: 4,
    maxReplyBytes: 65_535,
  });

const query = (name: string, id: number) =>
  dnsPacket.encode({ type: "query", id, questions: [{ name, type: "A" }] });

it("a truncated UDP answer is asked again over TCP, and the whole one passed on when it fits", async () => {
  seen.length = 0;
  const result = await upstream().forward(query("one.example", 7), {
    kind: "udp",
    maxReplyBytes: 512,
  });
  expect(result.kind).toBe("reply");
  if (result.kind !== "reply") return;
  expect(seen).toEqual(["udp", "tcp"]);
  expect(isTruncated(result.bytes)).toBe(false);
  const reply = dnsPacket.decode(result.bytes);
  expect(reply.id).toBe(7);
  expect(reply.answers).toHaveLength(1);
});

it("a whole answer past the client's UDP limit stays truncated: the client asks over TCP", async () => {
  seen.length = 0;
  const result = await upstream().forward(query("many.example", 8), {
    kind: "udp",
    maxReplyBytes: 512,
  });
  expect(result.kind).toBe("reply");
  if (result.kind !== "reply") return;
  expect(seen).toEqual(["udp", "tcp"]);
  expect(isTruncated(result.bytes)).toBe(true);
  // with an EDNS buffer it fits, and is passed on whole
  const roomy = await upstream().forward(query("many.example", 9), {
    kind: "udp",
    maxReplyBytes: 1_232,
  });
  expect(roomy.kind === "reply" && dnsPacket.decode(roomy.bytes).answers?.length).toBe(40);
});

it("a TCP client's query goes over TCP only", async () => {
  seen.length = 0;
  const result = await upstream().forward(query("many.example", 10), { kind: "tcp" });
  expect(seen).toEqual(["tcp"]);
  expect(result.kind === "reply" && dnsPacket.decode(result.bytes).answers?.length).toBe(40);
});

it("through the server: a UDP client gets the upstream's whole answer, a TCP client too", async () => {
  const server = testDnsServer(new ZoneRecords(), { upstream: upstream() });
  seen.length = 0;
  const overUdp = await server.answer(query("one.example", 11), "udp");
  expect(overUdp !== null && dnsPacket.decode(overUdp).answers).toHaveLength(1);
  expect(seen).toEqual(["udp", "tcp"]);
  // no EDNS: 512 bytes is all a UDP client takes, so 40 records stay truncated
  const big = await server.answer(query("many.example", 12), "udp");
  expect(big !== null && isTruncated(big)).toBe(true);
  const overTcp = await server.answer(query("many.example", 13), "tcp");
  expect(overTcp !== null && dnsPacket.decode(overTcp).answers).toHaveLength(40);
});
