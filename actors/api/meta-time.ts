/**
 * Kubernetes' two timestamp encodings (apimachinery's `metav1.Time` and `metav1.MicroTime`),
 * written from wall-clock milliseconds that the caller takes from its injected clock.
 */

/** RFC 3339 with seconds, as `metav1.Time` marshals (creationTimestamp, conditions, events). */
export function rfc3339(wallMs: number): string {
  return new Date(wallMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** RFC 3339 with microseconds, as `metav1.MicroTime` marshals (Lease renewTime/acquireTime). */
export function microTime(wallMs: number): string {
  return new Date(wallMs).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
