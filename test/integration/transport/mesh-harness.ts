/**
 * In-process meshes on 127.0.0.1 ephemeral ports, with captured logs, torn down after each test.
 */
import pino, { type Logger } from "pino";
import { vi } from "vitest";
import { type Clock, SystemClock, type TimerId } from "../../../actors/system/clock.ts";
import type { Envelope } from "../../../transport/envelope.ts";
import type { JoinSigner } from "../../../transport/join-certificate.ts";
import type { TransportLimits } from "../../../transport/limits.ts";
import { Mesh, type MeshOptions } from "../../../transport/mesh.ts";
import type { MeshTlsMaterial } from "../../../transport/node-certificate.ts";
import type { PeerIdentity } from "../../../transport/peer-identity.ts";

export const TOKEN = "test-cluster-join-token";

export interface LogLine {
  level: number;
  msg: string;
  peer?: string;
  reason?: string;
  code?: number;
  [key: string]: unknown;
}

/** A pino logger whose JSON lines are kept for assertions. */
export function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) };
  return { logger: pino({ level: "debug" }, stream), lines };
}

export interface TestNode {
  id: string;
  mesh: Mesh;
  port: number;
  address: string;
  inbox: { envelope: Envelope; from: string; identity: PeerIdentity }[];
  logs: LogLine[];
}

/** The real clock, counting the timers still set, so tests can check `stop()` cleared them. */
export class CountingClock implements Clock {
  private readonly inner = new SystemClock();
  private readonly live = new Set<TimerId>();

  nowMs(): number {
    return this.inner.nowMs();
  }
  wallMs(): number {
    return this.inner.wallMs();
  }
  setTimeout(fn: () => void, delayMs: number): TimerId {
    const id = this.inner.setTimeout(() => {
      this.live.delete(id);
      fn();
    }, delayMs);
    this.live.add(id);
    return id;
  }
  clearTimeout(id: TimerId): void {
    this.live.delete(id);
    this.inner.clearTimeout(id);
  }
  pending(): number {
    return this.live.size;
  }
}

/** Every mesh started through a Cluster is stopped by `stopAll`, even if the test failed. */
export class Cluster {
  readonly nodes: TestNode[] = [];
  readonly clock = new CountingClock();

  async start(
    id: string,
    options: {
      port?: number;
      token?: string;
      faultsEnabled?: boolean;
      limits?: Partial<TransportLimits>;
      seed?: number;
      peers?: Record<string, string>;
      tls?: MeshTlsMaterial;
      joinSigner?: JoinSigner;
    } = {},
  ): Promise<TestNode> {
    const { logger, lines } = capturingLogger();
    const meshOptions: MeshOptions = {
      nodeId: id,
      host: "127.0.0.1",
      port: options.port ?? 0,
      peers: options.peers ?? {},
      token: options.token ?? TOKEN,
      faultsEnabled: options.faultsEnabled ?? false,
      clock: this.clock,
      logger,
      seed: options.seed ?? 42,
      // Fast reconnects keep the tests quick; the defaults are exercised in unit tests.
      limits: { backoffInitialMs: 20, backoffMaxMs: 200, ...options.limits },
      ...(options.tls ? { tls: options.tls } : {}),
      ...(options.joinSigner ? { joinSigner: options.joinSigner } : {}),
    };
    const mesh = new Mesh(meshOptions);
    const node: TestNode = { id, mesh, port: 0, address: "", inbox: [], logs: lines };
    this.nodes.push(node);
    mesh.onEnvelope((envelope, from, identity) => node.inbox.push({ envelope, from, identity }));
    node.port = (await mesh.start()).port;
    node.address = `127.0.0.1:${node.port}`;
    return node;
  }

  /** Makes every pair of `nodes` peers of each other. */
  connect(...nodes: TestNode[]): void {
    for (const a of nodes) {
      for (const b of nodes) if (a !== b) a.mesh.addPeer(b.id, b.address);
    }
  }

  async stop(node: TestNode): Promise<void> {
    await node.mesh.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.mesh.stop()));
    this.nodes.length = 0;
  }
}

export function tell(from: string, to: string, body: unknown, kind = "test"): Envelope {
  return { from: `${from}/tester`, to: `${to}/tester`, kind, body };
}

/** Polls `check` until it stops throwing, for at most `timeoutMs`. */
export function eventually<T>(check: () => T, timeoutMs = 10_000): Promise<T> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 10 });
}

export async function connected(a: TestNode, b: TestNode, timeoutMs = 10_000): Promise<void> {
  await eventually(() => {
    const ab = a.mesh.linkStates()[b.id]?.state;
    const ba = b.mesh.linkStates()[a.id]?.state;
    if (ab !== "connected" || ba !== "connected") throw new Error(`${a.id}↔${b.id}: ${ab}/${ba}`);
  }, timeoutMs);
}
