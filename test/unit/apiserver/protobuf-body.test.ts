/** Protobuf request bodies as kubectl's typed clients send them (k8s.io/api generated.proto numbers). */
import { describe, expect, it } from "vitest";
import {
  decodeProtobufBody,
  PROTOBUF_MAGIC,
  ProtobufDecodeError,
} from "../../../actors/apiserver/protobuf-body.ts";

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
const ld = (no: number, ...parts: (Buffer | string)[]) => {
  const payload = Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p)));
  return Buffer.concat([varint((no << 3) | 2), varint(payload.length), payload]);
};
const num = (no: number, n: number) => Buffer.concat([varint(no << 3), varint(n)]);
const entry = (no: number, k: string, v: string) => ld(no, ld(1, k), ld(2, v));
const envelope = (apiVersion: string, kind: string, raw: Buffer) =>
  Buffer.concat([PROTOBUF_MAGIC, ld(1, ld(1, apiVersion), ld(2, kind)), ld(2, raw)]);

describe("protobuf request bodies", () => {
  it("a Deployment as `kubectl create deployment web --image=nginx --replicas=2` sends it", () => {
    const labels = entry(11, "app", "web");
    const container = Buffer.concat([
      ld(1, "nginx"),
      ld(2, "nginx"),
      ld(8), // resources: always sent, empty
      num(16, 0), // stdin=false: non-pointer zeros are sent and dropped
      ld(5, ""),
    ]);
    const podSpec = Buffer.concat([ld(2, container), num(11, 0)]);
    const spec = Buffer.concat([
      num(1, 2),
      ld(2, entry(1, "app", "web")),
      ld(3, ld(1, labels), ld(2, podSpec)),
      ld(4),
      num(5, 0),
    ]);
    const raw = Buffer.concat([ld(1, ld(1, "web"), labels, ld(8)), ld(2, spec), ld(3, num(1, 0))]);
    expect(decodeProtobufBody(envelope("apps/v1", "Deployment", raw))).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", labels: { app: "web" } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "nginx", image: "nginx", resources: {} }] },
        },
        strategy: {},
      },
    });
  });

  it("a Service with an int-or-string targetPort, and a Scale to zero replicas", () => {
    const port = Buffer.concat([
      ld(1, "80-8080"),
      ld(2, "TCP"),
      num(3, 80),
      ld(4, num(1, 0), num(2, 8080)),
    ]);
    const svc = Buffer.concat([
      ld(1, ld(1, "web")),
      ld(2, ld(1, port), entry(2, "app", "web"), ld(4, "ClusterIP")),
    ]);
    expect(decodeProtobufBody(envelope("v1", "Service", svc))).toMatchObject({
      spec: {
        ports: [{ name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 }],
        selector: { app: "web" },
        type: "ClusterIP",
      },
    });
    const named = ld(4, num(1, 1), ld(3, "http"));
    expect(
      decodeProtobufBody(envelope("v1", "Service", ld(2, ld(1, num(3, 80), named)))),
    ).toMatchObject({ spec: { ports: [{ port: 80, targetPort: "http" }] } });
    const scale = Buffer.concat([ld(1, ld(1, "web")), ld(2, num(1, 0))]);
    expect(decodeProtobufBody(envelope("autoscaling/v1", "Scale", scale))).toMatchObject({
      spec: { replicas: 0 },
    });
  });

  it("refuses other kinds, and fields it does not know that carry a value, naming them", () => {
    expect(() =>
      decodeProtobufBody(envelope("networking.k8s.io/v1", "NetworkPolicy", Buffer.alloc(0))),
    ).toThrow(/kind NetworkPolicy/);
    const withVolumes = ld(2, ld(3, ld(2, ld(1, ld(1, "data")))));
    expect(() => decodeProtobufBody(envelope("apps/v1", "Deployment", withVolumes))).toThrow(
      ProtobufDecodeError,
    );
    expect(() => decodeProtobufBody(envelope("apps/v1", "Deployment", withVolumes))).toThrow(
      /field 1 of PodSpec \(spec.template.spec\)/,
    );
  });

  it("a Job and a CronJob as `kubectl create job|cronjob` send them", () => {
    const container = Buffer.concat([
      ld(1, "j"),
      ld(2, "busybox"),
      ld(3, "sh"),
      ld(3, "-c"),
      ld(3, "exit 0"),
    ]);
    const template = ld(6, ld(1), ld(2, ld(2, container), ld(3, "Never")));
    const job = decodeProtobufBody(
      envelope("batch/v1", "Job", Buffer.concat([ld(1, ld(1, "j")), ld(2, template)])),
    );
    expect(job).toEqual({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "j" },
      spec: {
        template: {
          metadata: {},
          spec: {
            containers: [{ name: "j", image: "busybox", command: ["sh", "-c", "exit 0"] }],
            restartPolicy: "Never",
          },
        },
      },
    });
    const cron = decodeProtobufBody(
      envelope(
        "batch/v1",
        "CronJob",
        Buffer.concat([
          ld(1, ld(1, "c")),
          ld(2, ld(1, "*/1 * * * *"), ld(5, ld(1, ld(1, "c")), ld(2, template))),
        ]),
      ),
    );
    expect(cron.spec).toMatchObject({
      schedule: "*/1 * * * *",
      jobTemplate: {
        metadata: { name: "c" },
        spec: { template: { spec: { restartPolicy: "Never" } } },
      },
    });
  });
});
