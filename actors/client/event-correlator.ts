/**
 * client-go's EventCorrelator (tools/record/events_cache.go), pure: what happens to an Event
 * before it is written, so that a crash-looping pod does not write a new Event every restart.
 *
 * 1. Aggregation: events alike but for their message (same source, object, type and reason)
 *    are counted per `aggregateIntervalMs`; from the `aggregateMaxEvents`-th on, they become
 *    one event whose message says `(combined from similar events): <latest message>`.
 * 2. De-duplication (client-go's eventLogger): an event identical to one already written
 *    (same source, object, type, reason and message) is not written again: the first one's
 *    `count` goes up and its `lastTimestamp` moves (an update of that Event, same name), and
 *    its `series` (count, lastObservedTime) says it is a series, as the events.k8s.io recorder
 *    writes it.
 * 3. Spam filter: a token bucket per source and object (`spamBurst` events, then one per
 *    `spamRefillMs`); an event without a token is skipped.
 *
 * Both caches are bounded LRUs of `maxCacheEntries`. Time comes in as an argument.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { microTime } from "../api/meta-time.ts";

export interface EventCorrelatorLimits {
  /** Entries per cache (client-go's maxLruCacheEntries). */
  maxCacheEntries: number;
  /** Similar events before they are combined (client-go: 10). */
  aggregateMaxEvents: number;
  /** The window similar events are counted in (client-go: 10 minutes). */
  aggregateIntervalMs: number;
  /** Events per object in a burst (client-go: 25). */
  spamBurst: number;
  /** One more token per object after this long (client-go: qps 1/300, one per 5 minutes). */
  spamRefillMs: number;
}

export const DEFAULT_EVENT_CORRELATOR_LIMITS: EventCorrelatorLimits = {
  maxCacheEntries: 4_096,
  aggregateMaxEvents: 10,
  aggregateIntervalMs: 600_000,
  spamBurst: 25,
  spamRefillMs: 300_000,
};

export const COMBINED_EVENT_PREFIX = "(combined from similar events): ";

export type CorrelationResult =
  | { skip: true }
  | {
      skip: false;
      /** The event to write: new (count 1), or an earlier one with its count raised. */
      event: JsonObject;
      /** An update of an Event already written (same name), not a create. */
      repeat: boolean;
    };

/** A Map that forgets its least recently used entry beyond `max` (insertion order is recency). */
class LruCache<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }
  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
  get size(): number {
    return this.entries.size;
  }
}

interface AggregateRecord {
  messages: Set<string>;
  lastMs: number;
}
interface SeenEvent {
  name: string;
  count: number;
  firstTimestamp: string;
}
interface TokenBucket {
  tokens: number;
  lastMs: number;
}

function sourceAndObjectKey(event: JsonObject): string[] {
  const source = asObject(event.source);
  const io = asObject(event.involvedObject);
  return [
    asString(source.component),
    asString(source.host),
    asString(io.kind),
    asString(io.namespace),
    asString(io.name),
    asString(io.uid),
    asString(io.apiVersion),
  ];
}

/** client-go's getSpamKey. */
function spamKey(event: JsonObject): string {
  return JSON.stringify(sourceAndObjectKey(event));
}

/** client-go's EventAggregatorByReasonFunc: all but the message. */
function aggregateKey(event: JsonObject): string {
  return JSON.stringify([
    ...sourceAndObjectKey(event),
    asString(asObject(event.involvedObject).fieldPath),
    asString(event.type),
    asString(event.reason),
  ]);
}

/** client-go's getEventKey: everything that makes two events the same. */
function eventKey(event: JsonObject): string {
  return JSON.stringify([aggregateKey(event), asString(event.message)]);
}

export class EventCorrelator {
  private readonly aggregates: LruCache<AggregateRecord>;
  private readonly seen: LruCache<SeenEvent>;
  private readonly buckets: LruCache<TokenBucket>;

  constructor(private readonly limits: EventCorrelatorLimits = DEFAULT_EVENT_CORRELATOR_LIMITS) {
    if (limits.maxCacheEntries < 1 || limits.aggregateMaxEvents < 1 || limits.spamBurst < 1)
      throw new Error("event correlator: limits must be at least 1");
    this.aggregates = new LruCache(limits.maxCacheEntries);
    this.seen = new LruCache(limits.maxCacheEntries);
    this.buckets = new LruCache(limits.maxCacheEntries);
  }

  correlate(event: JsonObject, nowMs: number): CorrelationResult {
    const aggregated = this.aggregate(event, nowMs);
    const observed = this.observe(aggregated.event, aggregated.key, nowMs);
    if (!this.takeToken(observed.event, nowMs)) return { skip: true };
    return { skip: false, ...observed };
  }

  private aggregate(event: JsonObject, nowMs: number): { event: JsonObject; key: string } {
    const key = aggregateKey(event);
    const message = asString(event.message);
    let record = this.aggregates.get(key);
    if (record === undefined || nowMs - record.lastMs > this.limits.aggregateIntervalMs)
      record = { messages: new Set(), lastMs: nowMs };
    record.messages.add(message);
    record.lastMs = nowMs;
    this.aggregates.set(key, record);
    if (record.messages.size < this.limits.aggregateMaxEvents)
      return { event, key: eventKey(event) };
    // combined: one event per aggregate key from now on, its message the latest one
    return { event: { ...event, message: `${COMBINED_EVENT_PREFIX}${message}` }, key };
  }

  private observe(
    event: JsonObject,
    key: string,
    nowMs: number,
  ): { event: JsonObject; repeat: boolean } {
    const seen = this.seen.get(key);
    const meta = asObject(event.metadata);
    if (seen === undefined) {
      this.seen.set(key, {
        name: asString(meta.name),
        count: 1,
        firstTimestamp: asString(event.firstTimestamp),
      });
      return { event, repeat: false };
    }
    const next = { ...seen, count: seen.count + 1 };
    this.seen.set(key, next);
    return {
      event: {
        ...event,
        metadata: { ...meta, name: seen.name },
        count: next.count,
        firstTimestamp: seen.firstTimestamp,
        series: { count: next.count, lastObservedTime: microTime(observedAt(event, nowMs)) },
      },
      repeat: true,
    };
  }

  /** client-go's spam filter: a token bucket per source and object. */
  private takeToken(event: JsonObject, nowMs: number): boolean {
    const key = spamKey(event);
    const { spamBurst, spamRefillMs } = this.limits;
    const bucket = this.buckets.get(key) ?? { tokens: spamBurst, lastMs: nowMs };
    const refilled = Math.min(spamBurst, bucket.tokens + (nowMs - bucket.lastMs) / spamRefillMs);
    const next = { tokens: refilled, lastMs: nowMs };
    const allowed = next.tokens >= 1;
    if (allowed) next.tokens -= 1;
    this.buckets.set(key, next);
    return allowed;
  }
}

/** When the event was seen: its lastTimestamp (wall time), or `nowMs` when it has none. */
function observedAt(event: JsonObject, nowMs: number): number {
  const wall = Date.parse(asString(event.lastTimestamp));
  return Number.isNaN(wall) ? nowMs : wall;
}
