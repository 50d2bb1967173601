/**
 * The browser inspector's page as one script and one stylesheet, bundled by esbuild from
 * `page/` (with elkjs inside it) on the first request and kept in memory: the page needs no
 * network but the node that serves it — no CDN, no build step before `bosun node` starts.
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

export interface PageBundle {
  js: string;
  css: string;
  /** Content hash, for ETags. */
  etag: string;
}

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "page");

let cached: Promise<PageBundle> | null = null;

async function bundle(): Promise<PageBundle> {
  const result = await build({
    entryPoints: [join(PAGE_DIR, "main.ts")],
    bundle: true,
    write: false,
    outdir: "ui",
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    // elkjs asks for `web-worker` only when given a worker URL, which the page never does
    external: ["web-worker"],
    logLevel: "silent",
  });
  let js = "";
  let css = "";
  for (const file of result.outputFiles) {
    if (file.path.endsWith(".js")) js = file.text;
    else if (file.path.endsWith(".css")) css = file.text;
  }
  if (js === "") throw new Error("the inspector page did not bundle to any script");
  const etag = `"${createHash("sha256").update(js).update(css).digest("base64url").slice(0, 16)}"`;
  return { js, css, etag };
}

/** The bundle, built once per process; a failed build is tried again on the next request. */
export function pageBundle(): Promise<PageBundle> {
  if (cached === null) {
    cached = bundle();
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}
