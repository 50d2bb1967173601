/**
 * The allocation repair loop every API server runs (kube-apiserver runs its ipallocator and
 * portallocator `Repair` controllers in the API server too: only it sees the allocation state):
 *
 *   (start) ▶ repairing ──done / failed──▶ waiting ──(interval)──▶ repairing
 *
 * Each round removes allocation keys whose Service is gone and records keys for values Services
 * hold without one (ServiceAllocator.repair). Every write is guarded as read, so API servers
 * repairing at once do no harm; the Warning Events for collisions and out-of-range values are
 * the controller manager's (actors/controllers/service-ip-allocation.ts), which sees Services.
 */
import type { Logger } from "pino";
import { assign, fromPromise, setup } from "xstate";
import type { RepairReport, ServiceAllocator } from "./service-allocator.ts";

export const SERVICE_ALLOCATION_REPAIR_ACTOR = "service-allocation-repair";

/**
 * Between rounds (kube-apiserver: 3 min). A leak only costs an address until the next create
 * that picks it takes the key over, so rounds can be rare; 60 s keeps a full snapshot read per
 * server per minute.
 */
export const SERVICE_ALLOCATION_REPAIR_INTERVAL_MS = 60_000;

export interface RepairInput {
  allocator: ServiceAllocator;
  logger: Logger;
}

interface RepairContext extends RepairInput {
  rounds: number;
  lastError: string | null;
}

const repairOnce = fromPromise<RepairReport, ServiceAllocator>(({ input }) => input.repair());

export const serviceAllocationRepairMachine = setup({
  types: { context: {} as RepairContext, input: {} as RepairInput },
  actors: { repairOnce },
  delays: { repairInterval: SERVICE_ALLOCATION_REPAIR_INTERVAL_MS },
  actions: {
    recordRound: assign(({ context }, report: RepairReport) => {
      if (report.released + report.recorded > 0)
        context.logger.info(report, "service allocation repair: keys released / recorded");
      return { rounds: context.rounds + 1, lastError: null };
    }),
    recordFailure: assign(({ context }, error: string) => {
      context.logger.debug({ error }, "service allocation repair: retrying next round");
      return { lastError: error };
    }),
  },
}).createMachine({
  id: "service-allocation-repair",
  context: ({ input }) => ({ ...input, rounds: 0, lastError: null }),
  // a first round at start: a cluster upgraded to allocation keys gets them at once
  initial: "repairing",
  states: {
    repairing: {
      invoke: {
        src: "repairOnce",
        input: ({ context }) => context.allocator,
        onDone: {
          target: "waiting",
          actions: { type: "recordRound", params: ({ event }) => event.output },
        },
        onError: {
          target: "waiting",
          actions: { type: "recordFailure", params: ({ event }) => String(event.error) },
        },
      },
    },
    waiting: { after: { repairInterval: { target: "repairing" } } },
  },
});
