/**
 * Which program a `bosun` process runs: the TypeScript sources through tsx (development, tests)
 * or the JavaScript bundle `npm run build` writes to dist/ (production: no transpiler loaded,
 * about 100 MiB less resident per process). A process started from the bundle starts its nodes
 * from the bundle too, so `npm start` runs compiled code end to end; one started from the sources
 * starts nodes from the sources (tests always run the code as it is in the tree), unless
 * `BOSUN_NODE_RUNTIME=dist` asks for the bundle (benchmarks measure what production runs).
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** cmd/bosun.ts, the sources' entry point. */
export const BOSUN_TS = resolve(dirname(fileURLToPath(import.meta.url)), "bosun.ts");
/** The repository root: a node's working directory. */
export const SOURCE_ROOT = resolve(dirname(BOSUN_TS), "..");
/** dist/bosun.js, the bundle `npm run build` writes. */
export const BOSUN_DIST = resolve(SOURCE_ROOT, "dist", "bosun.js");

/** The bundle's own URL, declared by the first line of the bundle (cmd/build.ts); none under tsx. */
declare const BOSUN_BUNDLE_URL: string | undefined;

/** Whether this process runs a bundle. */
export function runningBundle(): boolean {
  return typeof BOSUN_BUNDLE_URL === "string";
}

/** The bundle this process runs (its path), or null under tsx. */
function runningBundlePath(): string | null {
  return typeof BOSUN_BUNDLE_URL === "string" ? fileURLToPath(BOSUN_BUNDLE_URL) : null;
}

/**
 * V8 settings of a long-running node. The old space is capped, so a leak fails loudly instead of
 * swapping a shared machine, at a size well above what a member uses (a 3-server cluster with
 * pods running: 27–54 MiB of heap in use, 64–76 MiB allocated). The young generation's
 * semi-space is held to 4 MiB (Node 20's default grows to 16): in bench:store (puts, 10k-key
 * reads, 100 watchers; two runs each, same minute) peak RSS per member was 155–217 MiB against
 * 157–243 at the default, with server CPU per op no higher (64-client puts 1.82–2.04 ms against
 * 2.00–2.08, reads 1.11–1.12 against 1.31–1.56).
 */
export const NODE_V8_FLAGS = ["--max-old-space-size=2048", "--max-semi-space-size=4"];

/** The argv (after `node`) that runs `bosun ARGS` the way this process was started. */
export function bosunArgv(args: string[]): string[] {
  const bundle =
    runningBundlePath() ?? (process.env.BOSUN_NODE_RUNTIME === "dist" ? BOSUN_DIST : null);
  return bundle !== null ? [bundle, ...args] : ["--import", "tsx", BOSUN_TS, ...args];
}

/** Whether a process's argv is a `bosun` entry point: the sources, or a bundle of them. */
export function isBosunEntry(argv: string[]): boolean {
  return argv.some((arg) => arg === BOSUN_TS || arg.endsWith("/bosun.js"));
}
