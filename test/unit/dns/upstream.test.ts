/**
 * Forwarding outside the cluster zone: the client's bytes go to the first upstream and its reply
 * comes back as is; a silent upstream times out and the next is tried; past the in-flight limit
 * a query is refused at once (`busy`) instead of queued.
 */
import { createSocket, type Socket } from "node:dgram";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Upstream } from "../../../actors/dns/upstream.ts";
import { SystemClock } from "../../../actors/system/clock.ts";

const clock = new SystemClock();
let answering: Socket;
let silent: Socket;

const bind = (s: Socket) =>
  new Promise<number>((resolve) => s.bind(0, "127.0.0.1", () => resolve(s.address().port)));

let answeringPort = 0;
let silentPort = 0;

beforeAll(async () => {
  answering = createSocket("udp4");
  answering.on("message", (m, from) => {
    const q = dnsPacket.decode(m);
    const reply = dnsPacket.encode({
      type: "response",
      id: q.id ?? 0,
      questions: q.questions ?? [],
      answers: [{ name: q.questions?.[0]?.name ?? "", type: "A", ttl: 60, data: "192.0.2.1" }],
    });
    answering.send(reply, from.port, from.address);
  });
  silent = createSocket("udp4");
  answeringPort = await bind(answering);
  silentPort = await bind(silent);
});

afterAll(() => {
  answering.close();
  silent.close();
});

const query = dnsPacket.encode({
  type: "query",
  id: 4242,
  questions: [{ name: "example.com", type: "A" }],
});

it("relays the upstream's reply; a silent upstream times out and the next answers", async () => {
  const upstream = new Upstream({
    servers: [`127.0.0.1:${silentPort}`, `127.0.0.1:${answeringPort}`],
    clock,
    timeoutMs: 100,
    maxInFlight: 4,
    maxReplyBytes: 65_535,
  });
  const result = await upstream.forward(query);
  expect(result.kind).toBe("reply");
  if (result.kind !== "reply") return;
  const reply = dnsPacket.decode(result.bytes);
  expect(reply.id).toBe(4242);
  expect(reply.answers?.[0]).toMatchObject({ type: "A", data: "192.0.2.1" });
  expect(upstream.pending).toBe(0);
});

it("fails when every upstream is silent, and refuses past the in-flight limit", async () => {
  const upstream = new Upstream({
    servers: [`127.0.0.1:${silentPort}`],
    clock,
    timeoutMs: 50,
    maxInFlight: 1,
    maxReplyBytes: 65_535,
  });
  const first = upstream.forward(query);
  expect((await upstream.forward(query)).kind).toBe("busy");
  expect((await first).kind).toBe("failed");
  expect(upstream.pending).toBe(0);
});
