/**
 * Where a component's Events go (client-go's event broadcaster and its sink): a bounded queue
 * drained by at most `maxInFlight` creates at once, so a burst of events (one per pod the
 * scheduler binds) never floods the API server ahead of the work the events describe. Events
 * are best effort, as in Kubernetes: when the queue is full the new event is dropped and
 * counted (client-go's broadcaster drops when its 1,000-event queue is full), and a failed
 * create is reported, not retried.
 */
import type { JsonObject } from "../api/json.ts";
import { asObject, asString } from "../api/json.ts";

export interface EventSinkLimits {
  /** Events waiting to be written (client-go: 1,000). */
  maxQueued: number;
  /** Creates in flight at once. */
  maxInFlight: number;
}

export const DEFAULT_EVENT_SINK_LIMITS: EventSinkLimits = { maxQueued: 1_000, maxInFlight: 8 };

/** Creates one Event in its namespace. */
export type WriteEvent = (namespace: string, event: JsonObject) => Promise<unknown>;

export class EventSink {
  private readonly queue: JsonObject[] = [];
  private inFlight = 0;
  private stopped = false;
  /** Events dropped because the queue was full. */
  dropped = 0;
  /** Events whose create failed. */
  failed = 0;

  constructor(
    private readonly write: WriteEvent,
    private readonly onError: (event: JsonObject, error: unknown) => void,
    private readonly limits: EventSinkLimits = DEFAULT_EVENT_SINK_LIMITS,
  ) {
    if (limits.maxQueued < 1 || limits.maxInFlight < 1)
      throw new Error("event sink: limits must be at least 1");
  }

  /** Queues `event`; false when it was dropped (queue full, or the sink stopped). */
  post(event: JsonObject): boolean {
    if (this.stopped) return false;
    if (this.queue.length >= this.limits.maxQueued) {
      this.dropped++;
      return false;
    }
    this.queue.push(event);
    this.pump();
    return true;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Drops what is queued; creates in flight finish on their own. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queue.length > 0) {
      const event = this.queue.shift() as JsonObject;
      this.inFlight++;
      const namespace = asString(asObject(event.metadata).namespace) || "default";
      this.write(namespace, event)
        .catch((error: unknown) => {
          this.failed++;
          this.onError(event, error);
        })
        .finally(() => {
          this.inFlight--;
          if (!this.stopped) this.pump();
        });
    }
  }
}
