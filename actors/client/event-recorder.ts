/**
 * client-go's EventBroadcaster and EventRecorder: every component records Events through one
 * of these. `recorder.event(object, type, reason, message)` builds the Event (event-builder.ts),
 * correlates it (event-correlator.ts: aggregation, de-duplication into `count` and
 * `lastTimestamp`, a spam filter) and queues it on the bounded sink (event-sink.ts), which
 * creates a new Event or updates the earlier one a repeat counts into.
 *
 * Best effort, as in Kubernetes: a recorder never throws and never waits; a full queue drops.
 *
 *   const broadcaster = new EventBroadcaster({ api, clock });
 *   const recorder = broadcaster.newRecorder({ component: "kubelet", host: "n1" });
 *   recorder.event(pod, "Warning", "BackOff", "Back-off restarting failed container web …");
 */
import { asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import type { Clock } from "../system/clock.ts";
import type { ObjectApi } from "./api-client.ts";
import { isAlreadyExists, isNotFound } from "./errors.ts";
import { buildEvent, type EventType } from "./event-builder.ts";
import {
  DEFAULT_EVENT_CORRELATOR_LIMITS,
  EventCorrelator,
  type EventCorrelatorLimits,
} from "./event-correlator.ts";
import { DEFAULT_EVENT_SINK_LIMITS, EventSink, type EventSinkLimits } from "./event-sink.ts";

export interface EventRecorder {
  /** Records an event about `object` (its apiVersion and kind set); `fieldPath` names a part. */
  event(
    object: JsonObject,
    type: EventType,
    reason: string,
    message: string,
    fieldPath?: string,
  ): void;
}

/** client-go's EventSource. */
export interface EventSource {
  component: string;
  host?: string;
}

/** What hands out recorders (an EventBroadcaster). */
export interface EventRecorderFactory {
  newRecorder(source: EventSource): EventRecorder;
}

export type EventApi = Pick<ObjectApi, "create" | "update">;

export interface EventBroadcasterOptions {
  api: EventApi;
  clock: Clock;
  /** A write failed or the queue dropped an event (default: silence; events are best effort). */
  onError?: (problem: string, event: JsonObject) => void;
  sinkLimits?: EventSinkLimits;
  correlatorLimits?: EventCorrelatorLimits;
}

export class EventBroadcaster implements EventRecorderFactory {
  private readonly sink: EventSink;
  private readonly correlator: EventCorrelator;
  private counter = 0;
  /** Skipped by the spam filter. */
  skipped = 0;

  constructor(private readonly options: EventBroadcasterOptions) {
    this.correlator = new EventCorrelator(
      options.correlatorLimits ?? DEFAULT_EVENT_CORRELATOR_LIMITS,
    );
    this.sink = new EventSink(
      (namespace, event) => writeEvent(options.api, namespace, event),
      (event, error) => options.onError?.(`writing an event failed: ${String(error)}`, event),
      options.sinkLimits ?? DEFAULT_EVENT_SINK_LIMITS,
    );
  }

  newRecorder(source: EventSource): EventRecorder {
    return { event: (...args) => this.record(source, ...args) };
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.sink.dropped;
  }

  /** Drops what is queued; nothing is recorded after. */
  stop(): void {
    this.sink.stop();
  }

  private record(
    source: EventSource,
    object: JsonObject,
    type: EventType,
    reason: string,
    message: string,
    fieldPath?: string,
  ): void {
    const { clock } = this.options;
    const wallMs = clock.wallMs();
    const event = buildEvent(object, {
      type,
      reason,
      message,
      component: source.component,
      ...(source.host !== undefined ? { host: source.host } : {}),
      ...(fieldPath !== undefined ? { fieldPath } : {}),
      nowIso: rfc3339(wallMs),
      // client-go: the time in hex; the counter keeps two events of one millisecond apart
      uniqueSuffix: `${Math.floor(wallMs).toString(16)}${(++this.counter).toString(16)}`,
    });
    const result = this.correlator.correlate(event, clock.nowMs());
    if (result.skip) {
      this.skipped++;
      return;
    }
    // the first drop is said, then every 1,000th
    if (!this.sink.post(result.event) && this.sink.dropped % 1_000 === 1)
      this.options.onError?.(
        `events dropped (${this.sink.dropped}): the API server takes them slower than they come`,
        result.event,
      );
  }
}

/**
 * A new event is created; a repeat (count > 1) updates the Event it counts into, or creates it
 * when that one is gone (client-go's recordToSink: a failed patch falls back to a create).
 */
async function writeEvent(api: EventApi, namespace: string, event: JsonObject): Promise<void> {
  const repeat = Number(event.count) > 1;
  if (repeat) {
    try {
      await api.update("events", event, { namespace });
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  try {
    await api.create("events", event, { namespace });
  } catch (error) {
    // a repeat whose first write landed meanwhile: count it into that one
    if (repeat && isAlreadyExists(error)) await api.update("events", event, { namespace });
    else if (!isAlreadyExists(error)) throw error;
  }
}

/** `{apiVersion, kind, ...object}`: informers' objects may lack their type meta. */
export function withTypeMeta(object: JsonObject, apiVersion: string, kind: string): JsonObject {
  return {
    ...object,
    apiVersion: asString(object.apiVersion) || apiVersion,
    kind: asString(object.kind) || kind,
  };
}
