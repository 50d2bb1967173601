/**
 * `npx tsx test/bench/audit.bench.ts [--requests N] [--rounds N]`: what auditing costs one API
 * request, apart from Raft and the network: an API server in this process (plain HTTP, the REST
 * handler over an in-memory store) serves N keep-alive GETs with audit off and with every request
 * at level Metadata (both stages, to a file), in alternating rounds; prints the CPU microseconds
 * per request (client and server together, from process.cpuUsage) per round and their medians.
 * bench:api --audit compare measures the same on a whole cluster, where a busy host blurs it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { Auditor } from "../../actors/apiserver/audit.ts";
import { RotatingAuditLog } from "../../actors/apiserver/audit-log.ts";
import { parseAuditPolicy } from "../../actors/apiserver/audit-policy.ts";
import { SystemClock } from "../../actors/system/clock.ts";
import { startInMemoryApiServer } from "../support/in-memory-api-server.ts";

const TOKEN = "audit-bench-token";
const CONCURRENCY = 20;
const POLICY = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n";
const clock = new SystemClock();

/** CPU µs per request of one round. */
async function round(audit: boolean, requests: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "bosun-audit-bench-"));
  const log = new RotatingAuditLog(
    join(dir, "audit.log"),
    { maxFileBytes: 1 << 30, maxBackups: 0 },
    () => clock.wallMs(),
  );
  const server = await startInMemoryApiServer(
    clock,
    TOKEN,
    audit ? { audit: new Auditor(parseAuditPolicy(POLICY), log, clock) } : {},
  );
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const get = () =>
      new Promise<void>((resolve, reject) =>
        request(
          {
            host: "127.0.0.1",
            port: server.port,
            path: "/api/v1/namespaces/default",
            agent,
            headers: { authorization: `Bearer ${TOKEN}` },
          },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`)),
            );
          },
        )
          .on("error", reject)
          .end(),
      );
    const before = process.cpuUsage();
    let sent = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent++ < requests) await get();
      }),
    );
    const used = process.cpuUsage(before);
    return (used.user + used.system) / requests;
  } finally {
    agent.destroy();
    await server.stop();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const program = new Command("bench:audit")
  .option("--requests <n>", "requests per round", "20000")
  .option("--rounds <n>", "rounds per mode (alternating)", "4")
  .action(async (o: { requests: string; rounds: string }) => {
    const off: number[] = [];
    const on: number[] = [];
    for (let r = 0; r < Number(o.rounds); r++) {
      // alternate which goes first: a host whose load drifts favours neither
      for (const audit of r % 2 === 0 ? [false, true] : [true, false]) {
        const us = await round(audit, Number(o.requests));
        (audit ? on : off).push(us);
        console.log(
          `round ${r + 1} audit ${audit ? "Metadata" : "off     "}: ${us.toFixed(1)} µs CPU per request`,
        );
      }
    }
    const a = median(off);
    const b = median(on);
    console.log(
      `\nmedian: off ${a.toFixed(1)} µs, Metadata ${b.toFixed(1)} µs per request: audit adds ${(b - a).toFixed(1)} µs (${((b / a - 1) * 100).toFixed(0)}% of this in-memory server's cost)`,
    );
  });
program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
