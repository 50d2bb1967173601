// bosun/fetch: fetches a URL and prints the answer's body (curl/wget-like), from $POD_IP so the
// server sees the pod's address.
// Usage: fetch [-k | --cacert FILE] [-i] [--retry N] [--every MS] [--count N] URL
//   -k          do not verify the server's certificate (https)
//   --cacert F  verify it against this CA (PEM) instead of the system's
//   -i          print the status line before the body
//   --retry N   retry a failed request (connection error or 5xx) up to N times, 200 ms apart
//   --count N   fetch N times (default 1), --every MS apart (default 0), each on a new connection
// curl's and wget's common quiet flags (-s, -S, -f, -q, -O -) are accepted and ignored. Exits 0
// when every fetch succeeded, 1 otherwise.

import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

const args = process.argv.slice(2);
let insecure = false;
let ca;
let status = false;
let retries = 0;
let count = 1;
let everyMs = 0;
let url = "";
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "-k" || a === "--insecure") insecure = true;
  else if (a === "-i") status = true;
  else if (a === "--cacert") ca = readFileSync(args[++i]);
  else if (a === "--retry") retries = Number(args[++i]);
  else if (a === "--count") count = Number(args[++i]);
  else if (a === "--every") everyMs = Number(args[++i]);
  else if (a === "-O") i++;
  else if (a.startsWith("-")) continue;
  else url = a;
}
if (!url) {
  console.error("usage: fetch [-k | --cacert FILE] [-i] [--retry N] [--count N] [--every MS] URL");
  process.exit(2);
}

function once() {
  return new Promise((resolve) => {
    const target = new URL(url);
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(
      target,
      {
        agent: false, // a new connection each time: the proxy balances connections
        rejectUnauthorized: !insecure,
        ...(ca ? { ca } : {}),
        ...(process.env.POD_IP ? { localAddress: process.env.POD_IP } : {}),
        timeout: 5_000,
      },
      (res) => {
        let body = "";
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error) => resolve({ code: 0, body: "", error: error.message }));
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failed = 0;
for (let n = 0; n < count; n++) {
  let answer = await once();
  for (let r = 0; r < retries && (answer.code === 0 || answer.code >= 500); r++) {
    await sleep(200);
    answer = await once();
  }
  if (answer.code === 0) {
    console.error(`fetch ${url}: ${answer.error}`);
    failed++;
  } else {
    if (status) console.log(`HTTP ${answer.code}`);
    process.stdout.write(answer.body.endsWith("\n") ? answer.body : `${answer.body}\n`);
    if (answer.code >= 400) failed++;
  }
  if (everyMs > 0 && n + 1 < count) await sleep(everyMs);
}
process.exit(failed > 0 ? 1 : 0);
