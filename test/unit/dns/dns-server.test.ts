/**
 * The DNS server's sockets on a loopback address: UDP and TCP answers from the zone, a long
 * answer truncated over UDP and whole over TCP, junk dropped without a reply, REFUSED outside
 * the zone with no upstream, and the statechart's fallback to 10053 when port 53 is refused.
 */
import { connect } from "node:net";
import dnsPacket, { type DecodedPacket, type RecordType } from "dns-packet";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createActor } from "xstate";
import { type DnsPort, dnsMachine } from "../../../actors/dns/dns.ts";
import { ZoneRecords } from "../../../actors/dns/zone-records.ts";
import { SystemClock } from "../../../actors/system/clock.ts";
import { recordBigHeadlessService, testDnsServer, udpAsk } from "../../support/dns.ts";
import { waitFor } from "../../support/wait.ts";

const HOST = "127.0.0.1";
const clock = new SystemClock();
const zone = new ZoneRecords();
zone.recordService({
  metadata: { name: "web", namespace: "default" },
  spec: { clusterIP: "127.96.0.20" },
});
recordBigHeadlessService(zone);
const observed: string[] = [];
const server = testDnsServer(zone, { observe: (type, rcode) => observed.push(`${type}/${rcode}`) });

beforeAll(async () => {
  // any free ports (UDP and TCP get different ones): the tests ask the server which
  await server.listen(0);
});

afterAll(() => server.stop());

const query = (name: string, type: RecordType = "A") =>
  dnsPacket.encode({
    type: "query",
    id: 42,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type }],
  });

function tcpAsk(bytes: Buffer, port: number): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, HOST);
    let got = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
        socket.destroy();
        resolve(dnsPacket.decode(got.subarray(2)));
      }
    });
    socket.on("error", reject);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(bytes.length);
    // the length prefix and the message in two writes: framing must not assume one chunk
    socket.write(prefix);
    socket.write(bytes);
  });
}

it("answers over UDP and TCP, truncating over UDP only", async () => {
  const port = server.udpPort();
  const tcpPort = server.tcpPort();
  const a = await udpAsk(query("web.default.svc.cluster.local"), HOST, port);
  expect(a?.answers?.map((r) => ("data" in r ? r.data : null))).toEqual(["127.96.0.20"]);
  expect(a?.id).toBe(42);
  const udp = await udpAsk(query("big.default.svc.cluster.local"), HOST, port);
  expect(udp?.flag_tc).toBe(true);
  const tcp = await tcpAsk(query("big.default.svc.cluster.local"), tcpPort);
  expect(tcp.flag_tc).toBe(false);
  expect(tcp.answers).toHaveLength(60);
});

it("a repeated query is answered from the answer cache with its own ID, until the zone changes", async () => {
  const port = server.udpPort();
  const name = "late.default.svc.cluster.local";
  const first = await udpAsk(query(name), HOST, port);
  expect((first as unknown as { rcode: string }).rcode).toBe("NXDOMAIN");
  const again = await udpAsk(
    dnsPacket.encode({
      type: "query",
      id: 77,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: "A" }],
    }),
    HOST,
    port,
  );
  expect(again?.id).toBe(77);
  expect((again as unknown as { rcode: string }).rcode).toBe("NXDOMAIN");
  // no negative caching: the Service answers as soon as the zone has it
  zone.recordService({
    metadata: { name: "late", namespace: "default" },
    spec: { clusterIP: "127.96.0.30" },
  });
  const now = await udpAsk(query(name), HOST, port);
  expect(now?.answers?.map((r) => ("data" in r ? r.data : null))).toEqual(["127.96.0.30"]);
});

it("junk gets no reply; outside the zone with no upstream is REFUSED", async () => {
  const port = server.udpPort();
  expect(await udpAsk(Buffer.from("garbage"), HOST, port)).toBeNull();
  const refused = await udpAsk(query("example.com"), HOST, port);
  expect((refused as unknown as { rcode: string }).rcode).toBe("REFUSED");
  expect(observed).toContain("none/dropped");
  expect(observed).toContain("A/REFUSED");
});

it("the statechart shows serving.fallbackPort when bound elsewhere than 53", async () => {
  const port: DnsPort = {
    informersSynced: () => true,
    listen: async () => 10_053,
    stop: () => {},
  };
  const actor = createActor(dnsMachine, { input: { port }, clock });
  actor.start();
  await waitFor("serving", () => actor.getSnapshot().matches({ serving: "fallbackPort" }));
  expect(actor.getSnapshot().context.boundPort).toBe(10_053);
  actor.send({ type: "dns.stop" });
  expect(actor.getSnapshot().status).toBe("done");
});
