// The DNS thread's first file, plain JavaScript: Node 20 does not pass the process's
// `--import tsx` hooks on to a worker thread, so the thread registers tsx itself before it
// loads its TypeScript entry (as cmd/bosun.js does for the process).
import { register } from "tsx/esm/api";

register();
await import("./dns-worker.ts");
