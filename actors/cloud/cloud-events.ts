/**
 * Events of the cloud controllers about the objects they handle (client-go's EventRecorder):
 * built by actors/client/object-event.ts, posted through the manager's event sink. The same
 * reason and message about the same object is posted once, not on every retry: a Service
 * pending for an hour says why once, and again only when the reason changes.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { objectEvent } from "../client/object-event.ts";
import type { Clock } from "../system/clock.ts";

/** Objects whose last Event is remembered; past it the oldest is forgotten (a repeat, at worst). */
const MAX_REMEMBERED_OBJECTS = 10_000;

export class CloudEventRecorder {
  /** Object uid → the last `type|reason|message` posted about it. */
  private readonly last = new Map<string, string>();
  private counter = 0;

  constructor(
    private readonly component: string,
    private readonly clock: Clock,
    private readonly post: (event: JsonObject) => void,
  ) {}

  record(
    object: JsonObject,
    kind: string,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): void {
    const uid = asString(asObject(object.metadata).uid);
    const said = `${type}|${reason}|${message}`;
    if (this.last.get(uid) === said) return;
    this.last.delete(uid);
    this.last.set(uid, said);
    if (this.last.size > MAX_REMEMBERED_OBJECTS)
      this.last.delete(this.last.keys().next().value as string);
    const wallMs = this.clock.wallMs();
    this.post(
      objectEvent(
        { apiVersion: "v1", ...object, kind },
        {
          type,
          reason,
          message,
          component: this.component,
          nowIso: rfc3339(wallMs),
          uniqueSuffix: `${Math.floor(wallMs).toString(16)}${(++this.counter).toString(16)}`,
        },
      ),
    );
  }

  forget(object: JsonObject): void {
    this.last.delete(asString(asObject(object.metadata).uid));
  }
}
