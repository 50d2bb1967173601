import { spawn } from "node:child_process";
import { Command } from "commander";
import { baseUrl, defaultRunDir, nodeFor, readClusterFile } from "./cluster-file.ts";
import { isReady } from "./node-client.ts";

interface UiOptions {
  runDir: string;
  node?: string;
  open: boolean;
}

/** The program that opens a URL in the desktop's browser, by platform. */
function opener(): string {
  if (process.platform === "darwin") return "open";
  if (process.platform === "win32") return "explorer";
  return "xdg-open";
}

/**
 * `bosun ui`: where the browser inspector is. Every node serves it at `/ui/`; this picks the
 * asked node or the first one that is ready, and prints the page's address and a sign-in link
 * that carries the cluster token in its fragment (never sent to the server; the sign-in page
 * posts it once and drops it from the address bar).
 */
export function uiCommand(): Command {
  return new Command("ui")
    .description("print (or open) the browser inspector's address")
    .option("--run-dir <dir>", "the cluster's run dir", defaultRunDir())
    .option("--node <id>", "the node to serve the page (default: the first ready one)")
    .option("--open", "open it in the desktop's browser", false)
    .action(async (options: UiOptions) => {
      const cluster = readClusterFile(options.runDir);
      let node = options.node ? nodeFor(cluster, `${options.node}/ui`) : undefined;
      if (node === undefined) {
        for (const candidate of cluster.nodes) {
          if ((await isReady(candidate)).ready) {
            node = candidate;
            break;
          }
        }
      }
      node ??= cluster.nodes[0];
      if (node === undefined) throw new Error("the cluster file lists no nodes");
      const page = `${baseUrl(node)}/ui/`;
      const signIn = `${baseUrl(node)}/ui/login#token=${encodeURIComponent(cluster.token)}`;
      console.log(`inspector: ${page}`);
      console.log(`sign in:   ${signIn}`);
      console.log("(the sign-in link holds the cluster token: treat it as a password)");
      if (options.open) {
        const child = spawn(opener(), [signIn], { detached: true, stdio: "ignore" });
        child.on("error", (error) => console.error(`could not open a browser: ${error.message}`));
        child.unref();
      }
    });
}
