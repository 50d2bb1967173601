/**
 * Events of the cloud controllers about the objects they handle (client-go's EventRecorder):
 * built by actors/client/event-builder.ts (the one Event builder), posted through the manager's event sink. The same
 * reason and message about the same object is posted once per episode, not on every retry: a
 * Service pending for an hour says why once. `forget` ends the episode (the controller calls it
 * when the object is fine again), so a later failure is told again.
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { rfc3339 } from "../api/meta-time.ts";
import { buildEvent } from "../client/event-builder.ts";
import type { Clock } from "../system/clock.ts";

/** Objects whose last Event is remembered; past it the oldest is forgotten (a repeat, at worst). */
const MAX_REMEMBERED_OBJECTS = 10_000;

export class CloudEventRecorder {
  /** Object uid → the `type|reason|message`s posted about it this episode. */
  private readonly said = new Map<string, Set<string>>();
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
    const text = `${type}|${reason}|${message}`;
    const said = this.said.get(uid) ?? new Set<string>();
    if (said.has(text)) return;
    said.add(text);
    // most recently told last, so the first key is the one to forget
    this.said.delete(uid);
    this.said.set(uid, said);
    if (this.said.size > MAX_REMEMBERED_OBJECTS)
      this.said.delete(this.said.keys().next().value as string);
    const wallMs = this.clock.wallMs();
    this.post(
      buildEvent(
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
    this.said.delete(asString(asObject(object.metadata).uid));
  }
}
