/**
 * The local image catalog: an image reference resolves to a runnable program shipped in
 * `actors/kubelet/images/` (or /bin/sh), nothing is pulled. Tags and registries are ignored
 * (`docker.io/library/nginx:1.25` is `nginx`). Common public names map to the bosun images:
 *
 *   bosun/echo   HTTP server on $POD_IP:$PORT answering with its pod name  ← nginx, httpd, …
 *   bosun/sh     /bin/sh -c "<args>"                                       ← busybox, alpine, …
 *   bosun/pause  sleeps until killed                                       ← pause, registry.k8s.io/pause
 *   bosun/udp-echo  UDP server on $POD_IP:$PORT sending each datagram back
 *   bosun/fetch  fetches a URL and prints the body (`-k`, `--retry N`)    ← curlimages/curl
 *
 * Kubernetes' rule for command/args holds: `command` replaces the image's entrypoint (and is
 * looked up on PATH), `args` replace its default arguments.
 */
import { fileURLToPath } from "node:url";
import { normalizeImageName } from "../api/image-name.ts";

export { normalizeImageName };

export interface ImageProgram {
  /** The catalog image it resolved to. */
  image: string;
  /** The entrypoint argv, before args. */
  entrypoint: string[];
  /** Default args when the pod gives none. */
  defaultArgs: string[];
  /** Whether args are joined into one shell command (bosun/sh). */
  joinArgs: boolean;
}

const IMAGES_DIR = fileURLToPath(new URL("./images/", import.meta.url));

const CATALOG: Record<string, Omit<ImageProgram, "image">> = {
  "bosun/echo": {
    entrypoint: [process.execPath, `${IMAGES_DIR}echo.mjs`],
    defaultArgs: [],
    joinArgs: false,
  },
  "bosun/sh": { entrypoint: ["/bin/sh", "-c"], defaultArgs: ["true"], joinArgs: true },
  "bosun/pause": {
    entrypoint: [process.execPath, `${IMAGES_DIR}pause.mjs`],
    defaultArgs: [],
    joinArgs: false,
  },
  "bosun/udp-echo": {
    entrypoint: [process.execPath, `${IMAGES_DIR}udp-echo.mjs`],
    defaultArgs: [],
    joinArgs: false,
  },
  "bosun/fetch": {
    entrypoint: [process.execPath, `${IMAGES_DIR}fetch.mjs`],
    defaultArgs: ["http://127.0.0.1/"],
    joinArgs: false,
  },
};

const ALIASES: Record<string, string> = {
  nginx: "bosun/echo",
  httpd: "bosun/echo",
  "hashicorp/http-echo": "bosun/echo",
  "k8s.gcr.io/echoserver": "bosun/echo",
  "registry.k8s.io/echoserver": "bosun/echo",
  busybox: "bosun/sh",
  alpine: "bosun/sh",
  ubuntu: "bosun/sh",
  debian: "bosun/sh",
  pause: "bosun/pause",
  "curlimages/curl": "bosun/fetch",
  "appropriate/curl": "bosun/fetch",
  "k8s.gcr.io/pause": "bosun/pause",
  "registry.k8s.io/pause": "bosun/pause",
};

/** The program behind an image, or null (the kubelet reports ErrImagePull). */
export function resolveImage(reference: string): ImageProgram | null {
  const name = normalizeImageName(reference);
  const image = CATALOG[name] ? name : ALIASES[name];
  const program = image ? CATALOG[image] : undefined;
  if (!image || !program) return null;
  return { image, ...program };
}

/** The argv to exec for a container of `program` with the pod's command and args. */
export function containerArgv(program: ImageProgram, command: string[], args: string[]): string[] {
  if (command.length > 0) return [...command, ...args];
  const effective = args.length > 0 ? args : program.defaultArgs;
  return program.joinArgs
    ? [...program.entrypoint, effective.join(" ")]
    : [...program.entrypoint, ...effective];
}
