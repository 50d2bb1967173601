/** The checks that turn bad input into a clean 400 before it reaches recursive code. */
import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../actors/api/json.ts";
import {
  assertJsonDepth,
  assertYamlFlowDepth,
  DEFAULT_REQUEST_LIMITS,
  decodeUtf8,
  parseRequestUrl,
} from "../../../actors/apiserver/request-limits.ts";
import { ApiError } from "../../../actors/client/errors.ts";

function codeOf(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (error) {
    if (error instanceof ApiError) return error.status.code ?? null;
    throw error;
  }
}

function nested(depth: number): JsonValue {
  let v: JsonValue = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

describe("request limits", () => {
  const limits = DEFAULT_REQUEST_LIMITS;

  it("JSON as deep as the limit passes; one level deeper is a 400, even a million levels deep", () => {
    expect(codeOf(() => assertJsonDepth(nested(limits.maxJsonDepth), limits))).toBeNull();
    expect(codeOf(() => assertJsonDepth(nested(limits.maxJsonDepth + 1), limits))).toBe(400);
    const deep = JSON.parse(`${"[".repeat(1_000_000)}${"]".repeat(1_000_000)}`) as JsonValue;
    expect(codeOf(() => assertJsonDepth(deep, limits))).toBe(400);
  });

  it("YAML flow collections as deep as the limit pass; deeper is a 400 before the YAML parser runs out of memory", () => {
    const flow = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    expect(codeOf(() => assertYamlFlowDepth(flow(limits.maxJsonDepth), limits))).toBeNull();
    expect(codeOf(() => assertYamlFlowDepth(flow(limits.maxJsonDepth + 1), limits))).toBe(400);
    // 1.6 MB of this made the yaml parser die of a fatal out-of-memory error
    expect(codeOf(() => assertYamlFlowDepth(flow(800_000), limits))).toBe(400);
    expect(codeOf(() => assertYamlFlowDepth("a: {b: [1, {c: d}]}\ne: [f]\n", limits))).toBeNull();
  });

  it("bytes that are not UTF-8 are a 400, not replaced", () => {
    expect(decodeUtf8(Buffer.from('{"a":"é"}'))).toBe('{"a":"é"}');
    expect(codeOf(() => decodeUtf8(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])))).toBe(400);
    // an overlong encoding of "/" and a lone surrogate
    expect(codeOf(() => decodeUtf8(Buffer.from([0xc0, 0xaf])))).toBe(400);
    expect(codeOf(() => decodeUtf8(Buffer.from([0xed, 0xa0, 0x80])))).toBe(400);
  });

  it("a request target whose percent-encoding does not decode is a 400", () => {
    const req = (url: string) => ({ url }) as IncomingMessage;
    expect(parseRequestUrl(req("/api/v1/namespaces/a%20b/pods")).pathname).toBe(
      "/api/v1/namespaces/a%20b/pods",
    );
    expect(codeOf(() => parseRequestUrl(req("/api/v1/namespaces/%E0%A4%A/pods")))).toBe(400);
    expect(codeOf(() => parseRequestUrl(req("/api/%zz")))).toBe(400);
  });
});
