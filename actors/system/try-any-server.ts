import type { ActorSystem } from "./actor-system.ts";
import { sleep } from "./clock.ts";

/**
 * How a client reaches "any server" of the cluster (the store client, the API client): it tries
 * the servers in rounds — the one that answered last first, one that just failed last, servers
 * it has no connection to only when no other is left — and pauses between rounds, doubling,
 * since a round that failed everywhere usually means an election is under way.
 *
 * Which failures may be tried again elsewhere is the caller's call (`retryable`): everything for
 * the store client, whose sessions make a retried proposal apply once; only what provably never
 * reached a server for the API client's writes (api-client.ts).
 */
export interface ServerRoundsLimits {
  /** Attempts per request, over all rounds. */
  maxAttempts: number;
  /** Deadline of one attempt. */
  requestTimeoutMs: number;
}

/** Pause between rounds: short at first, since a Raft election takes tens of milliseconds. */
export const ROUND_PAUSE_INITIAL_MS = 20;
export const ROUND_PAUSE_MAX_MS = 500;

export class RoundsExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    readonly last: string,
  ) {
    super(`failed ${attempts} times (last: ${last})`);
    this.name = "RoundsExhaustedError";
  }
}

export class ServerRounds {
  /** The server that answered last (or that a reply named as the leader). */
  preferred: string | null = null;
  /** A server that just failed; tried last until it answers again. */
  private demoted: string | null = null;

  constructor(
    private readonly system: ActorSystem,
    private readonly servers: () => string[],
    private readonly limits: ServerRoundsLimits,
  ) {}

  /** The servers in the order to try them. */
  order(): string[] {
    const rank = (s: string) =>
      (this.system.isReachable(s) ? 0 : 10) +
      (s === this.preferred ? 0 : s === this.demoted ? 2 : 1);
    return [...this.servers()].sort((a, b) => rank(a) - rank(b));
  }

  succeeded(server: string): void {
    this.preferred = server;
    if (this.demoted === server) this.demoted = null;
  }

  failed(server: string): void {
    if (this.preferred === server) this.preferred = null;
    this.demoted = server;
  }

  /** Asks `kind` of actor `actor` on the servers, round after round, until one answers. */
  ask<T>(
    from: string,
    actor: string,
    kind: string,
    body: unknown,
    retryable: (error: unknown) => boolean = anyFailure,
  ): Promise<{ server: string; reply: T }> {
    return this.run(
      async (server) => ({
        server,
        reply: await this.system.ask<T>(
          from,
          `${server}/${actor}`,
          kind,
          body,
          this.limits.requestTimeoutMs,
        ),
      }),
      retryable,
    );
  }

  /**
   * Runs `attempt` on the servers, round after round, until one resolves; a rejection counts as
   * that server failing. Throws RoundsExhaustedError after `maxAttempts`, and at once the first
   * failure that is not `retryable`.
   */
  async run<T>(
    attempt: (server: string) => Promise<T>,
    retryable: (error: unknown) => boolean = anyFailure,
  ): Promise<T> {
    let last = "no servers";
    let pauseMs = ROUND_PAUSE_INITIAL_MS;
    let attempts = 0;
    while (attempts < this.limits.maxAttempts) {
      const ordered = this.order();
      const reachable = ordered.filter((s) => this.system.isReachable(s));
      const round = reachable.length > 0 ? reachable : ordered;
      if (round.length === 0) break;
      for (const server of round) {
        if (attempts >= this.limits.maxAttempts) break;
        // reachability is checked again before each attempt: a server whose link dropped while
        // earlier ones were tried would only queue the message, and the attempt would wait out
        // its whole timeout (a killed leader, tried after the others refused during the election)
        if (round.length > 1 && !this.system.isReachable(server)) continue;
        attempts++;
        try {
          const result = await attempt(server);
          this.succeeded(server);
          return result;
        } catch (error) {
          last = (error as Error).message;
          this.failed(server);
          if (!retryable(error)) throw error;
        }
      }
      await sleep(this.system.clock, pauseMs);
      pauseMs = Math.min(pauseMs * 2, ROUND_PAUSE_MAX_MS);
    }
    throw new RoundsExhaustedError(this.limits.maxAttempts, last);
  }
}

function anyFailure(): boolean {
  return true;
}
