/**
 * The mesh certificate's renewal before it expires (the kubelet's certificate manager, shrunk):
 *
 *   valid ──after checkInMs──▶ (due?) ──yes──▶ renewing ──done──▶ valid
 *     ▲                          │no            │failed
 *     └──────────────────────────┘              ▼
 *                                     backoff ──after retryMs──▶ renewing
 *
 * Due at two thirds of the certificate's lifetime, as client-go's certificate manager renews.
 * `renew` obtains a new certificate (signed locally on a server holding the CA, else with the
 * join token), writes it and reloads the mesh: new links present it, no restart. Checks wake at
 * least daily, since a timer cannot wait the weeks a certificate lives.
 */
import { fromPromise, setup } from "xstate";

/** A check wakes at least this often (setTimeout cannot wait past ~24.8 days). */
export const MAX_CHECK_INTERVAL_MS = 86_400_000;
/** A failed renewal is tried again this much later. */
export const RENEWAL_RETRY_MS = 30_000;

export interface RenewalInput {
  /** How long until the current certificate is due for renewal (≤ 0: now). */
  dueInMs: () => number;
  renew: () => Promise<void>;
}

export const meshCertificateRenewalMachine = setup({
  types: { input: {} as RenewalInput, context: {} as RenewalInput },
  actors: {
    renewCertificate: fromPromise<void, RenewalInput>(({ input }) => input.renew()),
  },
  guards: {
    isRenewalDue: ({ context }) => context.dueInMs() <= 0,
  },
  delays: {
    checkInMs: ({ context }) => Math.min(MAX_CHECK_INTERVAL_MS, Math.max(0, context.dueInMs())),
    retryMs: RENEWAL_RETRY_MS,
  },
}).createMachine({
  id: "mesh-certificate-renewal",
  context: ({ input }) => input,
  initial: "valid",
  states: {
    valid: {
      after: {
        checkInMs: [
          { guard: "isRenewalDue", target: "renewing" },
          { target: "valid", reenter: true },
        ],
      },
    },
    renewing: {
      invoke: {
        src: "renewCertificate",
        input: ({ context }) => context,
        onDone: "valid",
        onError: "backoff",
      },
    },
    backoff: {
      after: { retryMs: "renewing" },
    },
  },
});

/** Two thirds into [notBefore, notAfter], as client-go's certificate manager. */
export function renewalDueAtMs(notBeforeMs: number, notAfterMs: number): number {
  return notBeforeMs + ((notAfterMs - notBeforeMs) * 2) / 3;
}
