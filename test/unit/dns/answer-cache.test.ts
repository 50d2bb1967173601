/**
 * The answer cache (answer-cache.ts) and the server's use of it: a repeated query gets the same
 * answer under its own ID without being decoded again, any zone change empties it (a Service
 * created, changed or deleted answers differently at once), and it holds at most its limit,
 * dropping the least recently used answer first.
 */
import dnsPacket, { type DecodedPacket } from "dns-packet";
import { expect, it } from "vitest";
import { AnswerCache } from "../../../actors/dns/answer-cache.ts";
import { ZoneRecords } from "../../../actors/dns/zone-records.ts";
import { recordBigHeadlessService, testDnsServer } from "../../support/dns.ts";

/** A zone that counts lookups: a query answered from the cache makes none. */
class CountingZone extends ZoneRecords {
  lookups = 0;
  override service(namespace: string, name: string) {
    this.lookups++;
    return super.service(namespace, name);
  }
}

function serverWith(zone: ZoneRecords, maxCachedAnswers = 100) {
  const observed: string[] = [];
  const server = testDnsServer(zone, {
    limits: { maxCachedAnswers },
    observe: (type, rcode) => observed.push(`${type}/${rcode}`),
  });
  return { server, observed };
}

const query = (name: string, id: number) =>
  dnsPacket.encode({
    type: "query",
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: "A" }],
  });

type Reply = DecodedPacket & { rcode?: string };
const decode = (bytes: Buffer | null) =>
  bytes === null ? null : (dnsPacket.decode(bytes) as Reply);
const addresses = (reply: Reply | null) =>
  reply?.answers?.map((r) => ("data" in r ? r.data : null));

const web = (clusterIP: string) => ({
  metadata: { name: "web", namespace: "default" },
  spec: { clusterIP },
});

it("a repeated query gets the cached bytes under its own ID, counted in the metrics", async () => {
  const zone = new CountingZone();
  zone.recordService(web("127.96.0.20"));
  const { server, observed } = serverWith(zone);
  const first = await server.answer(query("web.default.svc.cluster.local", 1), "udp");
  const second = await server.answer(query("web.default.svc.cluster.local", 2), "udp");
  expect(decode(first)?.id).toBe(1);
  expect(decode(second)?.id).toBe(2);
  // the same bytes but the ID, and the zone was not asked again
  expect(second?.subarray(2)).toEqual(first?.subarray(2));
  expect(zone.lookups).toBe(1);
  expect(addresses(decode(second))).toEqual(["127.96.0.20"]);
  // a hit must not hand out the stored buffer itself: patching its ID would change the first
  expect(decode(first)?.id).toBe(1);
  expect(observed).toEqual(["A/NOERROR", "A/NOERROR"]);
});

it("UDP and TCP answers are kept apart (a UDP answer may be truncated)", async () => {
  const zone = new ZoneRecords();
  recordBigHeadlessService(zone);
  const { server } = serverWith(zone);
  const udp = decode(await server.answer(query("big.default.svc.cluster.local", 1), "udp"));
  const tcp = decode(await server.answer(query("big.default.svc.cluster.local", 1), "tcp"));
  expect(udp?.flag_tc).toBe(true);
  expect(tcp?.flag_tc).toBe(false);
  expect(tcp?.answers).toHaveLength(60);
});

it("a Service change empties it: changed, deleted and created names answer anew at once", async () => {
  const zone = new ZoneRecords();
  zone.recordService(web("127.96.0.20"));
  const { server } = serverWith(zone);
  const ask = async (name: string, id: number) =>
    decode(await server.answer(query(`${name}.default.svc.cluster.local`, id), "udp"));
  expect(addresses(await ask("web", 1))).toEqual(["127.96.0.20"]);
  expect((await ask("new", 2))?.rcode).toBe("NXDOMAIN");
  zone.recordService(web("127.96.0.21"));
  expect(addresses(await ask("web", 3))).toEqual(["127.96.0.21"]);
  zone.recordService({
    metadata: { name: "new", namespace: "default" },
    spec: { clusterIP: "127.96.0.22" },
  });
  expect(addresses(await ask("new", 4))).toEqual(["127.96.0.22"]);
  zone.forgetService(web("127.96.0.21"));
  expect((await ask("web", 5))?.rcode).toBe("NXDOMAIN");
});

it("is bounded: past its limit the least recently used answer goes first", () => {
  const cache = new AnswerCache(2);
  const answer = (n: number) => ({
    bytes: Buffer.from([0, 0, n]),
    type: "A",
    rcode: "NOERROR" as const,
  });
  cache.set("a", 7, answer(1));
  cache.set("b", 7, answer(2));
  expect(cache.get("a", 7)?.bytes[2]).toBe(1); // a is now the most recently used
  cache.set("c", 7, answer(3));
  expect(cache.size).toBe(2);
  expect(cache.get("b", 7)).toBeUndefined();
  expect(cache.get("a", 7)?.bytes[2]).toBe(1);
  expect(cache.get("c", 7)?.bytes[2]).toBe(3);
  // another generation: nothing kept from the last one is returned, and it starts over
  expect(cache.get("a", 8)).toBeUndefined();
  cache.set("d", 8, answer(4));
  expect(cache.size).toBe(1);
  expect(cache.get("a", 8)).toBeUndefined();
});

it("a limit of 0 keeps nothing, and every query is answered all the same", async () => {
  const zone = new CountingZone();
  zone.recordService(web("127.96.0.20"));
  const { server } = serverWith(zone, 0);
  for (let id = 0; id < 3; id++)
    expect(
      addresses(decode(await server.answer(query("web.default.svc.cluster.local", id), "udp"))),
    ).toEqual(["127.96.0.20"]);
});

it("the reply patches only the ID, in a copy", () => {
  const stored = {
    bytes: Buffer.from([0xab, 0xcd, 1, 2, 3]),
    type: "A",
    rcode: "NOERROR" as const,
  };
  const reply = AnswerCache.reply(stored, Buffer.from([0x12, 0x34, 9, 9]));
  expect([...reply]).toEqual([0x12, 0x34, 1, 2, 3]);
  expect([...stored.bytes]).toEqual([0xab, 0xcd, 1, 2, 3]);
});
