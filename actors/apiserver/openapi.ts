/**
 * OpenAPI v3 — not served yet: `/openapi/v3` lists no group versions, so kubectl falls back
 * (apply: patch computed from its built-in types; explain: unavailable).
 */
export function openApiV3Paths(): object {
  return { paths: {} };
}

export function openApiV3Document(_group: string, _version: string): object | null {
  return null;
}
