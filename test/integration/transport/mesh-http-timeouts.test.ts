/**
 * The node's HTTP port (health, metrics, admin, and the mesh's upgrade request) cuts off slow
 * clients: a head never finished loses its socket at the transport's HTTP header timeout, while
 * a WebSocket link on the same port lives on past it.
 */
import { connect } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { Cluster, connected, tell } from "./mesh-harness.ts";

/** Writes `text`, then waits for the server to close the socket; resolves with what it answered. */
function sendAndWaitForClose(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
    });
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
    socket.write(text);
  });
}

describe("mesh HTTP port: slow clients", () => {
  const cluster = new Cluster();
  afterAll(() => cluster.stopAll());

  it("closes a head that never ends and leaves links alone", async () => {
    const limits = { httpHeadersTimeoutMs: 300, httpRequestTimeoutMs: 600 };
    const a = await cluster.start("a", { limits });
    const b = await cluster.start("b", { limits });
    cluster.connect(a, b);
    await connected(a, b);
    const head = await sendAndWaitForClose(a.port, "GET /healthz HTTP/1.1\r\nhost: x\r\n");
    // Node's 408, or (the mesh destroys sockets on a client error) nothing at all
    expect(head === "" || head.startsWith("HTTP/1.1 408"), JSON.stringify(head)).toBe(true);
    // the link dialed over this port's upgrade request is past both timeouts, and still carries messages
    expect(a.mesh.send(tell("a", "b", "after the timeouts"))).toEqual({ ok: true });
    await expect
      .poll(() => b.inbox.at(-1)?.envelope.body, { timeout: 10_000 })
      .toBe("after the timeouts");
    expect(a.mesh.linkStates().b?.connects).toBe(1);
  });
});
