/**
 * Request bodies in Kubernetes' protobuf encoding, for the few kinds kubectl's typed clients
 * send that way (`kubectl create namespace|configmap|secret` use client-go's clientset, which
 * sends `application/vnd.kubernetes.protobuf` and has no JSON fallback). The envelope is the
 * magic `k8s\0` then a runtime.Unknown {typeMeta=1 {apiVersion=1, kind=2}, raw=2}; field numbers
 * below are those of k8s.io/api's generated.proto. Other kinds get 415.
 */
import type { JsonObject, JsonValue } from "../api/json.ts";

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export class ProtobufDecodeError extends Error {}

type Field = { no: number; wire: number; value: bigint | Buffer };

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && shift < 70n; i++) {
    const b = buf[i] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  throw new ProtobufDecodeError("truncated varint");
}

/** The fields of one message, in order (repeated fields appear repeatedly). */
export function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, p1] = readVarint(buf, pos);
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, p2] = readVarint(buf, p1);
      out.push({ no, wire, value: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = readVarint(buf, p1);
      const end = p2 + Number(len);
      if (end > buf.length) throw new ProtobufDecodeError("truncated field");
      out.push({ no, wire, value: buf.subarray(p2, end) });
      pos = end;
    } else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(p1, p1 + 8) });
      pos = p1 + 8;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(p1, p1 + 4) });
      pos = p1 + 4;
    } else throw new ProtobufDecodeError(`unsupported wire type ${wire}`);
  }
  return out;
}

const str = (f: Field) => (f.value as Buffer).toString("utf8");
const bytes = (f: Field) => f.value as Buffer;

function mapEntry(f: Field, value: (v: Buffer) => string): [string, string] {
  let k = "";
  let v = "";
  for (const e of readFields(bytes(f))) {
    if (e.no === 1) k = str(e);
    if (e.no === 2) v = value(bytes(e));
  }
  return [k, v];
}

const utf8 = (b: Buffer) => b.toString("utf8");
const base64 = (b: Buffer) => b.toString("base64");

function objectMeta(buf: Buffer): JsonObject {
  const m: JsonObject = {};
  const labels: JsonObject = {};
  const annotations: JsonObject = {};
  const finalizers: string[] = [];
  for (const f of readFields(buf)) {
    if (f.no === 1) m.name = str(f);
    else if (f.no === 2) m.generateName = str(f);
    else if (f.no === 3) m.namespace = str(f);
    else if (f.no === 11) {
      const [k, v] = mapEntry(f, utf8);
      labels[k] = v;
    } else if (f.no === 12) {
      const [k, v] = mapEntry(f, utf8);
      annotations[k] = v;
    } else if (f.no === 14) finalizers.push(str(f));
  }
  if (Object.keys(labels).length > 0) m.labels = labels;
  if (Object.keys(annotations).length > 0) m.annotations = annotations;
  if (finalizers.length > 0) m.finalizers = finalizers;
  for (const k of ["name", "generateName", "namespace"]) if (m[k] === "") delete m[k];
  return m;
}

function stringMap(fields: Field[], no: number, value: (v: Buffer) => string): JsonObject | null {
  const out: JsonObject = {};
  let any = false;
  for (const f of fields) {
    if (f.no !== no) continue;
    const [k, v] = mapEntry(f, value);
    out[k] = v;
    any = true;
  }
  return any ? out : null;
}

function decodeKind(kind: string, raw: Buffer): JsonObject {
  const fields = readFields(raw);
  const meta = fields.find((f) => f.no === 1);
  const obj: JsonObject = { metadata: meta ? objectMeta(bytes(meta)) : {} };
  const set = (k: string, v: JsonValue | null) => {
    if (v !== null) obj[k] = v;
  };
  const bool = (no: number) => {
    const f = fields.find((x) => x.no === no);
    return f ? f.value !== 0n : null;
  };
  switch (kind) {
    case "Namespace": {
      const spec = fields.find((f) => f.no === 2);
      const finalizers = spec
        ? readFields(bytes(spec))
            .filter((f) => f.no === 1)
            .map(str)
        : [];
      if (finalizers.length > 0) obj.spec = { finalizers };
      return obj;
    }
    case "ConfigMap":
      set("data", stringMap(fields, 2, utf8));
      set("binaryData", stringMap(fields, 3, base64));
      set("immutable", bool(4));
      return obj;
    case "Secret": {
      set("data", stringMap(fields, 2, base64));
      const type = fields.find((f) => f.no === 3);
      if (type && str(type) !== "") obj.type = str(type);
      set("stringData", stringMap(fields, 4, utf8));
      set("immutable", bool(5));
      return obj;
    }
    default:
      throw new ProtobufDecodeError(`protobuf bodies of kind ${kind} are not supported`);
  }
}

/** Decodes a `k8s\0`-framed protobuf body into the JSON object it stands for. */
export function decodeProtobufBody(body: Buffer): JsonObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(PROTOBUF_MAGIC))
    throw new ProtobufDecodeError("protobuf body without the k8s envelope");
  let apiVersion = "";
  let kind = "";
  let raw: Buffer = Buffer.alloc(0);
  for (const f of readFields(body.subarray(4))) {
    if (f.no === 1) {
      for (const t of readFields(bytes(f))) {
        if (t.no === 1) apiVersion = str(t);
        if (t.no === 2) kind = str(t);
      }
    } else if (f.no === 2) raw = bytes(f);
  }
  return { apiVersion, kind, ...decodeKind(kind, raw) };
}
