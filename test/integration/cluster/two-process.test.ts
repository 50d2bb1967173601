import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setup } from "xstate";
import { SystemClock } from "../../../actors/system/clock.ts";
import type { InspectionPage, InspectionRecord } from "../../../actors/system/inspection-ring.ts";
import type { ActorMessage } from "../../../actors/system/message.ts";
import { BOSUN_TS } from "../../../cmd/launcher.ts";
import { NodeProcess } from "../../../cmd/node/process.ts";
import { nthAddress, randomLoopbackBase } from "../../support/loopback.ts";
import { exited } from "../../support/processes.ts";
import { waitFor } from "../../support/wait.ts";

/**
 * Two real processes: this test process hosts node n1 (so it can tell and ask directly) and a
 * child process runs `bosun node` as n2.
 */
const base = randomLoopbackBase(2);
const n1Host = nthAddress(base, 0);
const n2Host = nthAddress(base, 1);
const port = 7100;
const dir = mkdtempSync(join(tmpdir(), "bosun-two-"));
const token = "two-process-test-token-0123456789";
const tokenFile = join(dir, "token");
let n1: NodeProcess;
let n2: ChildProcess | undefined;

function startN2(): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      BOSUN_TS,
      "node",
      "--role",
      "agent",
      "--id",
      "n2",
      "--listen",
      `${n2Host}:${port}`,
      "--peers",
      `n1=${n1Host}:${port}`,
      "--token-file",
      tokenFile,
      "--data-dir",
      join(dir, "n2"),
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  return child;
}

const ask = <T>(kind: string, body: unknown, to = "n2/echo", timeoutMs = 5_000) =>
  n1.system.ask<T>("n1/test", to, kind, body, timeoutMs);

beforeAll(async () => {
  writeFileSync(tokenFile, token);
  n1 = new NodeProcess(
    {
      id: "n1",
      role: "agent",
      servers: [],
      host: n1Host,
      port,
      peers: { n2: `${n2Host}:${port}` },
      dataDir: join(dir, "n1"),
      token,
      faults: false,
      pingIntervalMs: 200,
    },
    new SystemClock(),
    pino({ level: "silent" }),
  );
  await n1.start();
  n2 = startN2();
  await waitFor("n1 to see n2", () => n1.readiness().ready);
});

afterAll(async () => {
  if (n2 && n2.exitCode === null) {
    n2.kill("SIGKILL");
    await exited(n2);
  }
  await n1?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("tell and ask across two real processes", () => {
  it("every tell arrives exactly once", async () => {
    await ask("echo.reset", null);
    for (let i = 0; i < 1_000; i++) {
      expect(n1.system.tell("n1/test", "n2/echo", "echo.tell", { i })).toEqual({ ok: true });
    }
    const told = await waitFor("1000 tells counted", async () => {
      const { told } = await ask<{ told: number }>("echo.count", null);
      return told >= 1_000 ? told : undefined;
    });
    expect(told).toBe(1_000);
  });

  it("an ask returns the remote actor's typed reply, binary intact", async () => {
    const body = {
      text: "héllo",
      n: 42,
      bytes: new Uint8Array([0, 1, 255]),
      nested: { list: [1, "two", null] },
    };
    const reply = await ask<typeof body>("echo.ask", body);
    expect({ ...reply, bytes: [...reply.bytes] }).toEqual({ ...body, bytes: [0, 1, 255] });
    expect(reply.bytes).toBeInstanceOf(Uint8Array);
  });

  it("an ask the remote actor never answers times out", async () => {
    await expect(ask("echo.tell", { unanswered: true }, "n2/echo", 300)).rejects.toThrow(
      /timed out after 300 ms/,
    );
  });

  it("an ask to an actor that does not exist fails fast with a clear error", async () => {
    await expect(ask("echo.ask", null, "n2/nobody")).rejects.toThrow(/no actor n2\/nobody/);
  });

  it("a transition on n2 is visible from n1's query, tagged with node, address and sequence", async () => {
    const status = await ask<{ inspectionSeq: number }>("system.status", null, "n2/node");
    n1.system.tell("n1/inspector-test", "n2/echo", "echo.tell", null);
    const record = await waitFor("n2's record of the tell", async () => {
      const page = await ask<InspectionPage>(
        "inspect.query",
        { address: "n2/echo", sinceSeq: status.inspectionSeq },
        "n2/node",
      );
      return page.records.find(
        (r) => r.eventType === "echo.tell" && r.from === "n1/inspector-test",
      );
    });
    expect(record).toMatchObject({ nodeId: "n2", address: "n2/echo", kind: "@xstate.event" });
    expect(record.seq).toBeGreaterThan(0);
  });

  it("n1 follows n2's inspection stream: records arrive as tells until it unfollows", async () => {
    const seen: InspectionRecord[] = [];
    const collector = setup({
      types: { events: {} as ActorMessage<"inspect.records", InspectionRecord[]> },
      actions: { collect: ({ event }) => void seen.push(...event.body) },
    }).createMachine({ id: "collector", on: { "inspect.records": { actions: "collect" } } });
    n1.system.spawn("collector", collector);
    await n1.system.ask("n1/collector", "n2/node", "inspect.follow", { address: "n2/echo" });
    n1.system.tell("n1/stream-test", "n2/echo", "echo.tell", null);
    await waitFor("the streamed record", () =>
      seen.find((r) => r.eventType === "echo.tell" && r.from === "n1/stream-test"),
    );
    expect(seen.every((r) => r.address === "n2/echo" && r.nodeId === "n2")).toBe(true);
    await n1.system.ask("n1/collector", "n2/node", "inspect.unfollow", null);
    const count = seen.length;
    await ask("echo.ask", "after unfollow"); // n2 has processed everything sent before this
    n1.system.tell("n1/stream-test", "n2/echo", "echo.tell", null);
    await ask("echo.ask", "barrier");
    expect(seen.length).toBe(count);
  });

  it("a restarted peer: the link backs off, reconnects, and traffic flows again", async () => {
    const sinceSeq = n1.system.ring.nextSeq;
    n2?.kill("SIGKILL");
    if (n2) await exited(n2);
    await waitFor("n1 to lose n2", () => !n1.readiness().ready);
    n2 = startN2();
    await waitFor("n1 to see n2 again", () => n1.readiness().ready);
    const states = n1.system.ring
      .read(sinceSeq, { address: "n1/link:n2" })
      .records.map((r) => r.state);
    expect(states).toContain("backoff");
    expect(states.at(-1)).toBe("connected");
    await expect(ask("echo.ask", "again")).resolves.toBe("again");
  });
});
