/**
 * The UDP flow table: a flow per client address, closed after the idle timeout (fake time),
 * dropped at once when its endpoint goes, bounded by evicting the least recently used.
 */
import { describe, expect, it } from "vitest";
import { UdpFlowTable } from "../../../actors/proxy/udp-flows.ts";

describe("UDP flow table", () => {
  it("keeps a flow alive while datagrams pass within the idle timeout", () => {
    const t = new UdpFlowTable<string>(250, 10);
    t.add("127.0.0.1:5000", "e1", "flow-1", 0);
    t.touch("127.0.0.1:5000", 200);
    expect(t.expire(400)).toEqual([]);
    expect(t.get("127.0.0.1:5000")).toBe("flow-1");
    expect(t.expire(451)).toEqual(["flow-1"]);
    expect(t.size()).toBe(0);
  });

  it("says when the next flow falls idle", () => {
    const t = new UdpFlowTable<string>(250, 10);
    expect(t.nextExpiryMs()).toBeNull();
    t.add("a", "e1", "f1", 10);
    t.add("b", "e1", "f2", 20);
    expect(t.nextExpiryMs()).toBe(260);
    t.touch("a", 100);
    expect(t.nextExpiryMs()).toBe(270);
  });

  it("drops every flow to an endpoint that is no longer ready, at once", () => {
    const t = new UdpFlowTable<string>(250, 10);
    t.add("a", "e1", "f1", 0);
    t.add("b", "e2", "f2", 0);
    t.add("c", "e1", "f3", 0);
    expect(t.dropEndpointsNotIn(new Set(["e2"]))).toEqual(["f1", "f3"]);
    expect(t.get("b")).toBe("f2");
  });

  it("evicts the least recently active flow past the limit", () => {
    const t = new UdpFlowTable<string>(250, 2);
    t.add("a", "e1", "f1", 0);
    t.add("b", "e1", "f2", 1);
    t.touch("a", 2);
    expect(t.add("c", "e1", "f3", 3)).toEqual(["f2"]);
    expect(t.size()).toBe(2);
  });
});
