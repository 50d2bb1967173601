/**
 * Image references as the kubelet and the scheduler compare them: the repository name without
 * registry defaults, tag or digest (`docker.io/library/nginx:1.25@sha256:…` → `nginx`).
 */
export function normalizeImageName(reference: string): string {
  let name = reference.trim().split("@")[0] ?? "";
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > slash) name = name.slice(0, colon);
  for (const prefix of ["docker.io/library/", "docker.io/", "library/"]) {
    if (name.startsWith(prefix)) name = name.slice(prefix.length);
  }
  return name;
}
