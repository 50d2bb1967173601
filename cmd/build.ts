/**
 * `npm run build`: bundles cmd/bosun.ts and everything it imports into one ES module,
 * dist/bosun.js (with a source map), so production processes run JavaScript without a
 * TypeScript transpiler in memory. npm packages stay external (loaded from node_modules, native
 * addons included). Files that find things beside themselves through `import.meta.url` (the
 * inspector page, the image catalog, the launcher) keep finding them beside their source: each
 * occurrence is replaced by the source file's URL, written relative to the bundle so that the
 * tree can move.
 */
import { readFile } from "node:fs/promises";
import { dirname, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { BOSUN_DIST, BOSUN_TS } from "./node-runtime.ts";

const IMPORT_META_URL = /\bimport\.meta\.url\b/g;

/** `import.meta.url` of a source file, as an expression valid inside a bundle at `outfile`. */
function sourceUrlPlugin(outfile: string): Plugin {
  return {
    name: "source-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        const text = await readFile(args.path, "utf8");
        if (!IMPORT_META_URL.test(text)) return undefined;
        IMPORT_META_URL.lastIndex = 0;
        const rel = relative(dirname(outfile), args.path).split("\\").join("/");
        const expr = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
        return { contents: text.replace(IMPORT_META_URL, expr), loader: "ts" };
      });
    },
  };
}

/** Writes the bundle (default dist/bosun.js); resolves with its path. */
export async function buildBundle(outfile = BOSUN_DIST): Promise<string> {
  await build({
    entryPoints: [BOSUN_TS],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    // read by cmd/node-runtime.ts: this process runs a bundle, and which one
    banner: { js: "const BOSUN_BUNDLE_URL = import.meta.url;" },
    plugins: [sourceUrlPlugin(outfile)],
    logLevel: "warning",
  });
  return outfile;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const started = performance.now();
  const out = await buildBundle(process.argv[2]);
  console.log(`built ${out} in ${Math.round(performance.now() - started)} ms`);
}
