/**
 * SPDY/3.1 framing for kubectl port-forward's tunnel: the spec's header dictionary, frames cut
 * from a byte stream however it is split, and header blocks through one zlib stream per
 * direction (each block continuing the last).
 */
import { describe, expect, it } from "vitest";
import {
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  FLAG_FIN,
  HeaderDeflater,
  HeaderInflater,
  SPDY_DICTIONARY,
  SpdyParser,
  SpdyProtocolError,
  SYN_STREAM,
} from "../../../actors/apiserver/spdy-framing.ts";

describe("SPDY/3.1 framing", () => {
  it("has the spec's 1,423-byte dictionary", () => {
    expect(SPDY_DICTIONARY.length).toBe(1423);
    expect(SPDY_DICTIONARY.subarray(0, 11)).toEqual(Buffer.from("\0\0\0\x07options", "latin1"));
    expect(SPDY_DICTIONARY.subarray(-6).toString("latin1")).toBe("enq=0.");
  });

  it("cuts frames from a stream split anywhere", () => {
    const bytes = Buffer.concat([
      controlFrame(SYN_STREAM, 0, Buffer.from("abcdefghij")),
      dataFrame(3, FLAG_FIN, Buffer.from("hello")),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const parser = new SpdyParser();
      const frames = [...parser.push(bytes.subarray(0, cut)), ...parser.push(bytes.subarray(cut))];
      expect(frames).toEqual([
        { control: true, type: SYN_STREAM, flags: 0, data: Buffer.from("abcdefghij") },
        { control: false, streamId: 3, flags: FLAG_FIN, data: Buffer.from("hello") },
      ]);
    }
  });

  it("refuses another SPDY version", () => {
    const frame = controlFrame(SYN_STREAM, 0, Buffer.alloc(0));
    frame.writeUInt16BE(0x8002, 0);
    expect(() => new SpdyParser().push(frame)).toThrow(SpdyProtocolError);
  });

  it("header blocks round-trip, names lower-cased, through one compression stream", async () => {
    expect(decodeHeaderBlock(encodeHeaderBlock({ streamType: "data", port: "8080" }))).toEqual({
      streamtype: "data",
      port: "8080",
    });
    const deflater = new HeaderDeflater();
    const inflater = new HeaderInflater();
    const blocks: Record<string, string>[] = [
      { streamtype: "error", port: "8080", requestid: "0" },
      { streamtype: "data", port: "8080", requestid: "0" },
      {},
    ];
    for (const headers of blocks)
      expect(inflater.inflate(await deflater.compress(headers))).toEqual(headers);
    deflater.close();
  });
});
