/**
 * The local image catalog: an image reference resolves to what the real image would run, made
 * of programs on this host (`actors/kubelet/images/` and the host's own tools); nothing is
 * pulled. Tags, digests and the Docker Hub prefixes are ignored (`docker.io/library/nginx:1.25`
 * is `nginx`, `registry.k8s.io/busybox:1.27` is `registry.k8s.io/busybox`).
 *
 * Each image carries its ENTRYPOINT and CMD as the real image does, and Kubernetes' rules
 * apply (containerArgv): `command` replaces the ENTRYPOINT (and the CMD with it), `args`
 * replace the CMD. The first word of the result is looked up in the image's `programs` (a
 * path inside the image → the argv that runs it here), else on the host's PATH.
 *
 * bosun's own images beside the real ones' stand-ins: `bosun/udp-echo` (a UDP server on
 * $POD_IP:$PORT sending each datagram back) and `bosun/fetch` (fetches a URL and prints the body:
 * `-k`, `--cacert F`, `--retry N`; curlimages/curl runs it as `curl`).
 *
 *   busybox, alpine, ubuntu, debian      ENTRYPOINT [] CMD [sh]: the argv runs as given through
 *     (and registry.k8s.io/busybox)      the host's tools (sh, sleep, cat, echo, touch, rm, wget…)
 *   nginx, httpd, http-echo, echoserver  an HTTP server on the pod IP answering with its pod name
 *                                        (bosun/echo), on the real image's port
 *   registry.k8s.io/e2e-test-images/agnhost   netexec, serve-hostname, liveness, pause
 *   polinux/stress                       stress --vm/--cpu (the docs' memory and CPU examples)
 *   pause, registry.k8s.io/pause         sleeps until killed
 *   bosun/sh                             bosun's own: /bin/sh -c "<args joined by spaces>"
 */
import { fileURLToPath } from "node:url";
import { normalizeImageName } from "../api/image-name.ts";

export { normalizeImageName };

export interface ImageConfig {
  /** The catalog image it resolved to. */
  image: string;
  /** The image's ENTRYPOINT. */
  entrypoint: string[];
  /** The image's CMD: the arguments when the pod gives neither command nor args. */
  cmd: string[];
  /** The image's ENV (the container's own env wins). */
  env: Record<string, string>;
  /** Programs inside the image, by path: the argv that runs each on this host. */
  programs: Record<string, string[]>;
  /** bosun/sh only: args joined into one shell command. */
  joinArgs: boolean;
}

const IMAGES_DIR = fileURLToPath(new URL("./images/", import.meta.url));
const node = (script: string) => [process.execPath, `${IMAGES_DIR}${script}`];

type CatalogEntry = Omit<ImageConfig, "image">;
const entry = (e: Partial<CatalogEntry>): CatalogEntry => ({
  entrypoint: [],
  cmd: [],
  env: {},
  programs: {},
  joinArgs: false,
  ...e,
});

/** An image whose programs are all the echo server. */
const echoImage = (entrypoint: string[], cmd: string[], port: number) =>
  entry({
    entrypoint,
    cmd,
    env: { ECHO_DEFAULT_PORT: String(port) },
    programs: Object.fromEntries(
      [...entrypoint, ...cmd.slice(0, 1)].map((p) => [p, node("echo.mjs")]),
    ),
  });

const BUSYBOX = entry({ cmd: ["sh"] });
const AGNHOST = entry({
  entrypoint: ["/agnhost"],
  cmd: ["pause"],
  programs: { "/agnhost": node("agnhost.mjs"), agnhost: node("agnhost.mjs") },
});
const PAUSE = entry({ entrypoint: ["/pause"], programs: { "/pause": node("pause.mjs") } });
const FETCH = entry({
  entrypoint: ["/fetch"],
  cmd: ["http://127.0.0.1/"],
  programs: { "/fetch": node("fetch.mjs") },
});
const CURL = entry({ entrypoint: ["curl"], programs: { curl: node("fetch.mjs") } });

const CATALOG: Record<string, CatalogEntry> = {
  "bosun/echo": echoImage(["/echo"], [], 8080),
  "bosun/sh": entry({ entrypoint: ["/bin/sh", "-c"], cmd: ["true"], joinArgs: true }),
  "bosun/pause": PAUSE,
  "bosun/udp-echo": entry({
    entrypoint: ["/udp-echo"],
    programs: { "/udp-echo": node("udp-echo.mjs") },
  }),
  "bosun/fetch": FETCH,
  "curlimages/curl": CURL,
  "appropriate/curl": CURL,
  busybox: BUSYBOX,
  "registry.k8s.io/busybox": BUSYBOX,
  "k8s.gcr.io/busybox": BUSYBOX,
  alpine: entry({ cmd: ["/bin/sh"] }),
  ubuntu: entry({ cmd: ["/bin/bash"] }),
  debian: entry({ cmd: ["bash"] }),
  nginx: echoImage(["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"], 80),
  httpd: echoImage([], ["httpd-foreground"], 80),
  "hashicorp/http-echo": echoImage(["/http-echo"], [], 5678),
  "k8s.gcr.io/echoserver": echoImage(["/usr/local/bin/run.sh"], [], 8080),
  "registry.k8s.io/echoserver": echoImage(["/usr/local/bin/run.sh"], [], 8080),
  "registry.k8s.io/e2e-test-images/agnhost": AGNHOST,
  "k8s.gcr.io/e2e-test-images/agnhost": AGNHOST,
  "polinux/stress": entry({
    cmd: ["stress"],
    programs: { stress: node("stress.mjs"), "/usr/bin/stress": node("stress.mjs") },
  }),
  pause: PAUSE,
  "k8s.gcr.io/pause": PAUSE,
  "registry.k8s.io/pause": PAUSE,
};

/** The image's configuration, or null (the kubelet reports ErrImagePull). */
export function resolveImage(reference: string): ImageConfig | null {
  const image = normalizeImageName(reference);
  const config = CATALOG[image];
  return config ? { image, ...config } : null;
}

/**
 * The argv to exec for a container of `image` with the pod's command and args (Kubernetes'
 * rules; see the header), its first word mapped to this host's program. Empty when the image
 * and the pod give nothing to run.
 */
export function containerArgv(image: ImageConfig, command: string[], args: string[]): string[] {
  let argv: string[];
  if (command.length > 0) argv = [...command, ...args];
  else {
    const effective = args.length > 0 ? args : image.cmd;
    argv = image.joinArgs
      ? [...image.entrypoint, effective.join(" ")]
      : [...image.entrypoint, ...effective];
  }
  const [first, ...rest] = argv;
  if (first === undefined) return [];
  const program = image.programs[first];
  return program ? [...program, ...rest] : argv;
}
