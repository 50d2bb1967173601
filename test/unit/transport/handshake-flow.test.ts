import { describe, expect, it } from "vitest";
import { makeChallenge, newNonce } from "../../../transport/handshake.ts";
import {
  type AcceptorSide,
  acceptorStep,
  type DialerSide,
  dialerStep,
} from "../../../transport/handshake-flow.ts";
import type { LinkRole } from "../../../transport/peer-link.ts";

const TOKEN = "join-token";
const members: Record<string, LinkRole> = { n1: "acceptor", n9: "dialer" };

function sides(dialerToken = TOKEN) {
  const acceptor: AcceptorSide = {
    token: TOKEN,
    acceptorId: "n5",
    acceptorNonce: newNonce(),
    roleFor: (id) => members[id],
  };
  const dialer: DialerSide = {
    token: dialerToken,
    dialerId: "n1",
    acceptorId: "n5",
    address: "127.0.0.1:7000",
    dialerNonce: newNonce(),
    acceptorNonce: undefined,
  };
  return { acceptor, dialer };
}

describe("handshake flow: the steps each side takes", () => {
  it("challenge → answer → proof authenticates both sides", () => {
    const { acceptor, dialer } = sides();
    const first = dialerStep(dialer, makeChallenge("n5", acceptor.acceptorNonce));
    if (!first.ok || first.authenticated) throw new Error("expected an answer");
    expect(first.reply.hs).toBe("answer");
    const accepted = acceptorStep(acceptor, first.reply);
    expect(accepted).toMatchObject({ ok: true, peerId: "n1", reply: { hs: "proof" } });
    if (!accepted.ok) return;
    const done = dialerStep({ ...dialer, acceptorNonce: first.acceptorNonce }, accepted.reply);
    expect(done).toEqual({ ok: true, authenticated: true });
  });

  it("the acceptor refuses a wrong token with 1008, naming the claimed peer", () => {
    const { acceptor, dialer } = sides("wrong");
    const first = dialerStep(dialer, makeChallenge("n5", acceptor.acceptorNonce));
    if (!first.ok || first.authenticated) throw new Error("expected an answer");
    expect(acceptorStep(acceptor, first.reply)).toEqual({
      ok: false,
      code: 1008,
      reason: "authentication failed for n1",
      authFailureOf: "n1",
    });
  });

  it("the acceptor refuses non-members and members that should be dialed instead", () => {
    const { acceptor } = sides();
    for (const [dialerId, reason] of [
      ["n2", "unknown peer n2"],
      ["n9", "n5 dials n9, not the reverse"],
    ] as const) {
      const dialer = { ...sides().dialer, dialerId };
      const first = dialerStep(dialer, makeChallenge("n5", acceptor.acceptorNonce));
      if (!first.ok || first.authenticated) throw new Error("expected an answer");
      expect(acceptorStep(acceptor, first.reply)).toEqual({ ok: false, code: 1008, reason });
    }
  });

  it("the dialer refuses a challenge from a node it did not dial", () => {
    const { dialer } = sides();
    expect(dialerStep(dialer, makeChallenge("n6", newNonce()))).toEqual({
      ok: false,
      code: 1008,
      reason: "dialed n5 at 127.0.0.1:7000 but n6 answered",
    });
  });

  it("either side refuses a frame out of turn with 1002", () => {
    const { acceptor, dialer } = sides();
    expect(acceptorStep(acceptor, makeChallenge("n1", newNonce()))).toMatchObject({
      ok: false,
      code: 1002,
    });
    expect(dialerStep(dialer, { hs: "proof", mac: new Uint8Array(32) })).toMatchObject({
      ok: false,
      code: 1002,
    });
    expect(dialerStep(dialer, { to: "n1/a", from: "n5/b", kind: "k", body: 0 })).toMatchObject({
      ok: false,
      code: 1002,
    });
  });

  it("the dialer refuses a proof that does not verify, as an auth failure of the acceptor", () => {
    const { dialer } = sides();
    const waiting = { ...dialer, acceptorNonce: newNonce() };
    expect(dialerStep(waiting, { hs: "proof", mac: new Uint8Array(32) })).toEqual({
      ok: false,
      code: 1008,
      reason: "acceptor failed authentication",
      authFailureOf: "n5",
    });
  });
});
