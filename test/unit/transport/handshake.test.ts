import { describe, expect, it } from "vitest";
import {
  type AnswerFrame,
  makeAnswer,
  makeChallenge,
  makeProof,
  NONCE_BYTES,
  newNonce,
  parseHandshakeFrame,
  verifyAnswer,
  verifyProof,
} from "../../../transport/handshake.ts";

const TOKEN = "cluster-join-token";

/** Runs the three messages between dialer n1 and acceptor n2 with the given tokens. */
function run(dialerToken: string, acceptorToken: string) {
  const acceptorNonce = newNonce();
  const dialerNonce = newNonce();
  const challenge = makeChallenge("n2", acceptorNonce);
  const answer = makeAnswer({
    token: dialerToken,
    dialerId: "n1",
    acceptorId: challenge.nodeId,
    acceptorNonce: challenge.nonce,
    dialerNonce,
  });
  const answerCheck = verifyAnswer({
    token: acceptorToken,
    acceptorId: "n2",
    acceptorNonce,
    answer,
  });
  const proof = makeProof({
    token: acceptorToken,
    acceptorId: "n2",
    dialerId: "n1",
    acceptorNonce,
    dialerNonce,
  });
  const proofCheck = verifyProof({
    token: dialerToken,
    acceptorId: "n2",
    dialerId: "n1",
    acceptorNonce,
    dialerNonce,
    proof,
  });
  return { acceptorNonce, dialerNonce, answer, answerCheck, proof, proofCheck };
}

describe("handshake: mutual HMAC challenge/response on the join token", () => {
  it("authenticates both ends when they share the token", () => {
    const { answerCheck, proofCheck } = run(TOKEN, TOKEN);
    expect(answerCheck).toEqual({ ok: true });
    expect(proofCheck).toEqual({ ok: true });
  });

  it("rejects a dialer with the wrong token, and the dialer rejects the acceptor's proof", () => {
    const { answerCheck, proofCheck } = run("wrong-token", TOKEN);
    expect(answerCheck).toEqual({ ok: false, reason: "authentication failed" });
    expect(proofCheck).toEqual({ ok: false, reason: "acceptor failed authentication" });
  });

  it("never puts the token on the wire", () => {
    const { answer, proof } = run(TOKEN, TOKEN);
    const wire = Buffer.concat([answer.mac, answer.nonce, proof.mac, Buffer.from(answer.nodeId)]);
    expect(wire.includes(Buffer.from(TOKEN))).toBe(false);
  });

  it("rejects an answer whose nonce or node id was tampered with", () => {
    const { acceptorNonce, answer } = run(TOKEN, TOKEN);
    const flipped = new Uint8Array(acceptorNonce);
    flipped[0] = flipped[0]! ^ 1;
    expect(
      verifyAnswer({ token: TOKEN, acceptorId: "n2", acceptorNonce: flipped, answer }).ok,
    ).toBe(false);
    const renamed: AnswerFrame = { ...answer, nodeId: "n3" };
    expect(
      verifyAnswer({ token: TOKEN, acceptorId: "n2", acceptorNonce, answer: renamed }).ok,
    ).toBe(false);
    // Presented to a different acceptor, the same answer is worthless.
    expect(verifyAnswer({ token: TOKEN, acceptorId: "n4", acceptorNonce, answer }).ok).toBe(false);
  });

  it("rejects a replayed answer: each challenge carries a fresh nonce", () => {
    const old = run(TOKEN, TOKEN);
    const freshNonce = newNonce();
    expect(
      verifyAnswer({
        token: TOKEN,
        acceptorId: "n2",
        acceptorNonce: freshNonce,
        answer: old.answer,
      }).ok,
    ).toBe(false);
  });

  it("does not accept a proof reflected back as an answer (role labels differ)", () => {
    const { acceptorNonce, dialerNonce, proof } = run(TOKEN, TOKEN);
    const reflected: AnswerFrame = {
      hs: "answer",
      nodeId: "n1",
      nonce: dialerNonce,
      mac: proof.mac,
    };
    expect(
      verifyAnswer({ token: TOKEN, acceptorId: "n2", acceptorNonce, answer: reflected }).ok,
    ).toBe(false);
  });

  it("parses handshake frames strictly", () => {
    const nonce = new Uint8Array(NONCE_BYTES);
    const mac = new Uint8Array(32);
    expect(parseHandshakeFrame({ hs: "challenge", nodeId: "n2", nonce }, "challenge").ok).toBe(
      true,
    );
    expect(parseHandshakeFrame({ hs: "answer", nodeId: "n1", nonce, mac }, "answer").ok).toBe(true);
    expect(parseHandshakeFrame({ hs: "proof", mac }, "proof").ok).toBe(true);
    expect(parseHandshakeFrame({ hs: "proof", mac }, "answer")).toEqual({
      ok: false,
      reason: "expected handshake answer",
    });
    expect(
      parseHandshakeFrame({ hs: "answer", nodeId: "n1", nonce, mac: mac.subarray(1) }, "answer"),
    ).toEqual({
      ok: false,
      reason: "bad handshake mac",
    });
    expect(parseHandshakeFrame({ hs: "answer", nodeId: "n1/x", nonce, mac }, "answer")).toEqual({
      ok: false,
      reason: "bad handshake nodeId",
    });
    expect(parseHandshakeFrame({ hs: "proof", mac, token: "x" }, "proof")).toEqual({
      ok: false,
      reason: "unknown handshake field 'token'",
    });
    expect(parseHandshakeFrame({ to: "n2/a", from: "n1/b", kind: "k", body: 1 }, "answer").ok).toBe(
      false,
    );
    expect(parseHandshakeFrame("hello", "challenge").ok).toBe(false);
  });
});
