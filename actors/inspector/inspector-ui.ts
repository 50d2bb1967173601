/**
 * The browser inspector on one node, composed: the page's HTTP routes, its live streams, and the
 * two fan-in actors that follow every node's inspection ring over the mesh — `ui-feed` (state
 * changes of every actor, for the cluster view) and `ui-feed:watch` (every record of the actors
 * open in actor views). Both are ordinary actors of this node, so the inspector shows them too.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { AnyActorRef } from "xstate";
import { nodeOf } from "../../transport/envelope.ts";
import type { ActorSystem } from "../system/actor-system.ts";
import type { InspectionPage } from "../system/inspection-ring.ts";
import { surveyCluster } from "./cluster-survey.ts";
import { liveFeedMachine } from "./live-feed.ts";
import { pageBundle } from "./page-bundle.ts";
import type { ChartView } from "./ui-protocol.ts";
import { createUiRoutes, UiHttpError } from "./ui-routes.ts";
import { type UiStreamLimits, UiStreams } from "./ui-streams.ts";

/** Chart and history questions to another node get this long before the page hears a 504. */
export const UI_ASK_TIMEOUT_MS = 3_000;

export interface InspectorUiOptions {
  system: ActorSystem;
  /** The cluster's join token: the page's login. */
  token: string;
  logger: Logger;
  /** Every node of the cluster this node knows: itself and its peers (not client members). */
  nodes: () => string[];
  streamLimits?: Partial<UiStreamLimits>;
  refollowMs?: number;
}

export class InspectorUi {
  readonly streams: UiStreams;
  private readonly feeds: AnyActorRef[];
  private readonly routes: ReturnType<typeof createUiRoutes>;

  constructor(private readonly options: InspectorUiOptions) {
    const { system, logger } = options;
    this.streams = new UiStreams(system.clock, options.streamLimits);
    const feed = (name: string, port: UiStreams["changesPort"]) =>
      system.spawn(name, liveFeedMachine, {
        input: {
          system,
          name,
          nodes: options.nodes,
          port,
          logger,
          ...(options.refollowMs !== undefined ? { refollowMs: options.refollowMs } : {}),
        },
      });
    this.feeds = [
      feed("ui-feed", this.streams.changesPort),
      feed("ui-feed:watch", this.streams.watchPort),
    ];
    this.streams.whenInterestChanges(() => {
      for (const name of ["ui-feed", "ui-feed:watch"]) {
        // looked up each time: a supervised feed that restarted is a new actor
        system.actorRef(name)?.send({ type: "feed.refresh" });
      }
    });
    this.routes = createUiRoutes({
      nodeId: system.nodeId,
      token: options.token,
      streams: this.streams,
      bundle: pageBundle,
      cluster: () => surveyCluster(system, system.address("ui"), options.nodes()),
      chart: (actor) => this.askNodeOf<ChartView>(actor, "inspect.chart", { actor }),
      events: (actor, sinceSeq, limit) =>
        this.askNodeOf<InspectionPage>(actor, "inspect.query", {
          sinceSeq,
          address: actor,
          limit,
        }),
    });
  }

  /** Answers a request under `/ui`. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void {
    this.routes(req, res, url);
  }

  stop(): void {
    this.streams.closeAll();
    for (const feed of this.feeds) feed.send({ type: "feed.refresh" });
  }

  private async askNodeOf<T>(actor: string, kind: string, body: unknown): Promise<T> {
    const { system } = this.options;
    const node = nodeOf(actor);
    if (!this.options.nodes().includes(node)) throw new UiHttpError(404, `no node ${node}`);
    try {
      return await system.ask<T>(
        system.address("ui"),
        `${node}/node`,
        kind,
        body,
        UI_ASK_TIMEOUT_MS,
      );
    } catch (error) {
      const message = (error as Error).message;
      throw new UiHttpError(/no actor/.test(message) ? 404 : 502, message);
    }
  }
}
