/**
 * Redaction of inspection payloads (actors/system/redaction.ts): what enters the inspection ring
 * carries no Secret data, token, password or bearer header, and stays small.
 */
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { setup } from "xstate";
import { ActorSystem } from "../../../actors/system/actor-system.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import {
  eventPayloadPreview,
  PREVIEW_BUDGET_NODES,
  REDACTED,
  redactedPreview,
  redactText,
} from "../../../actors/system/redaction.ts";

const PLANTED = "hunter2-planted-value";
const b64 = Buffer.from(PLANTED).toString("base64");

const leaks = (value: unknown) => {
  const text = JSON.stringify(value) ?? "";
  return text.includes(PLANTED) || text.includes(b64);
};

describe("redaction", () => {
  it("takes out a Secret's data and stringData, and a kind-less list item's", () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "shop" },
      data: { password: b64 },
      stringData: { other: PLANTED },
    };
    const out = redactedPreview({ body: secret }) as { body: Record<string, unknown> };
    expect(out.body.data).toBe(REDACTED);
    expect(out.body.stringData).toBe(REDACTED);
    expect(out.body.metadata).toEqual({ name: "db", namespace: "shop" });
    const list = { kind: "SecretList", items: [{ metadata: { name: "db" }, data: { k: b64 } }] };
    expect(leaks(redactedPreview(list))).toBe(false);
  });

  it("keeps a ConfigMap's data", () => {
    const cm = { kind: "ConfigMap", metadata: { name: "c" }, data: { mode: "fast" } };
    expect(redactedPreview(cm)).toEqual(cm);
  });

  it("takes out credential-named fields, env-style pairs and bearer headers", () => {
    const event = {
      token: PLANTED,
      auth: { password: PLANTED, apiKey: PLANTED, clientSecret: PLANTED },
      headers: { Authorization: `Bearer ${PLANTED}` },
      note: `sent with Bearer ${PLANTED} yesterday`,
      env: [
        { name: "DB_PASSWORD", value: PLANTED },
        { name: "MODE", value: "fast" },
      ],
      envMap: { API_TOKEN: PLANTED },
    };
    const out = redactedPreview(event);
    expect(leaks(out)).toBe(false);
    expect(JSON.stringify(out)).toContain('"fast"');
    expect(redactText(`Bearer ${PLANTED}`)).toBe(`Bearer ${REDACTED}`);
  });

  it("never shows bytes or JSON texts (store values, watch cache objects)", () => {
    const out = redactedPreview({
      entry: new TextEncoder().encode(PLANTED),
      object: JSON.stringify({ kind: "Secret", data: { a: b64 } }),
    });
    expect(out).toEqual({
      entry: "<21 bytes>",
      object: expect.stringMatching(/^<json, \d+ chars>$/),
    });
  });

  it("is bounded however big the payload (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(redactedPreview(value)) ?? "";
        // every visited value is at most a cut string plus its JSON punctuation
        expect(text.length).toBeLessThan(PREVIEW_BUDGET_NODES * 160);
      }),
    );
  });

  it("leaves the event's type and sender out of the payload, and reply functions", () => {
    expect(eventPayloadPreview({ type: "tick" })).toBeUndefined();
    expect(eventPayloadPreview({ type: "a", from: "n1/x", reply: () => 1, body: 3 })).toEqual({
      body: 3,
    });
  });

  it("is applied where events enter the ring", async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ nodeId: "n1", clock, logger: pino({ level: "silent" }) });
    const sink = setup({}).createMachine({ id: "sink", on: { "api.create": {} } });
    system.spawn("apiserver", sink);
    system.readInspection(0); // a reader: events now enter with their payloads
    system.tell("n1/test", "n1/apiserver", "api.create", {
      object: { kind: "Secret", metadata: { name: "s" }, data: { p: b64 } },
      token: PLANTED,
    });
    await new Promise((r) => setImmediate(r));
    const records = system.ring.read(0).records.filter((r) => r.eventType === "api.create");
    expect(records.length).toBeGreaterThan(0);
    expect(records[0]?.payload).toMatchObject({ body: { token: REDACTED } });
    expect(leaks(system.ring.read(0).records)).toBe(false);
  });
});
