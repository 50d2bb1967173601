/**
 * A real API server in this process, over plain HTTP on loopback, whose REST handler keeps its
 * objects in memory (no Raft): for tests and benchmarks of what the HTTP layer adds (filters,
 * limits, audit). Resolves once the system namespaces exist.
 */
import { pino } from "pino";
import { ResourceHandler } from "../../actors/apiserver/resource-handler.ts";
import { ApiServer, type ApiServerConfig } from "../../actors/apiserver/server.ts";
import type { Clock } from "../../actors/system/clock.ts";
import { MemoryObjectStore } from "../unit/apiserver/memory-object-store.ts";
import { waitFor } from "./wait.ts";

export async function startInMemoryApiServer(
  clock: Clock,
  token: string,
  options: Pick<ApiServerConfig, "audit" | "inFlight" | "requestLimits"> = {},
): Promise<ApiServer> {
  const server = new ApiServer({
    host: "127.0.0.1",
    port: 0,
    tls: null,
    token,
    clock,
    logger: pino({ level: "silent" }),
    handler: new ResourceHandler(new MemoryObjectStore(), clock),
    ready: () => ({ ready: true, reason: "" }),
    ...options,
  });
  await server.start();
  await waitFor("the system namespaces", () => server.bootstrapped);
  return server;
}
