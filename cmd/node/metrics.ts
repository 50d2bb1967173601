import { collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { NodeStatus } from "./introspection.ts";

/** `/metrics` in Prometheus text: process defaults plus gauges read from the node's status. */
export function createMetrics(status: () => NodeStatus): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "bosun_process_" });
  new Gauge({
    name: "bosun_actors",
    help: "Actors registered on this node",
    registers: [registry],
    collect() {
      this.set(status().actors.length);
    },
  });
  new Gauge({
    name: "bosun_actor_restarts",
    help: "Restarts of each supervised actor",
    labelNames: ["actor"],
    registers: [registry],
    collect() {
      this.reset();
      for (const a of status().actors) this.set({ actor: a.address }, a.restarts);
    },
  });
  new Gauge({
    name: "bosun_link_connected",
    help: "1 when the link to the peer is connected",
    labelNames: ["peer"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [peer, link] of Object.entries(status().links)) {
        this.set({ peer }, link.state === "connected" ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "bosun_dead_letters",
    help: "Messages for actors that do not exist on this node",
    registers: [registry],
    collect() {
      this.set(status().deadLetters);
    },
  });
  new Gauge({
    name: "bosun_inspection_records",
    help: "Inspection records produced on this node",
    registers: [registry],
    collect() {
      this.set(status().inspectionSeq - 1);
    },
  });
  return registry;
}
