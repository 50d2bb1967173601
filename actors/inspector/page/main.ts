/**
 * The browser inspector's page: a hash router between the cluster view (`#/`) and one actor's
 * view (`#/actor/<address>`), inside the shell. Bundled with elkjs by page-bundle.ts.
 */
import "./style.css";
import { ActorPage } from "./actor-view.ts";
import { ClusterPage } from "./cluster-view.ts";
import { Shell } from "./shell.ts";

interface Page {
  start(): void;
  stop(): void;
}

const root = document.getElementById("app");
if (root === null) throw new Error("no #app element");
const shell = new Shell(root, root.dataset.node ?? "?");
let page: Page | null = null;

function route(): void {
  page?.stop();
  delete document.body.dataset.ready;
  const match = /^#\/actor\/(.+)$/.exec(location.hash);
  page = match ? new ActorPage(shell, decodeURIComponent(match[1] ?? "")) : new ClusterPage(shell);
  page.start();
}

window.addEventListener("hashchange", route);
route();
