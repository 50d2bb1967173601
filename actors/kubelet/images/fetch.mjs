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
//
// Host names resolve through the pod's resolv.conf ($BOSUN_RESOLV_CONF, written by the kubelet per
// the pod's dnsPolicy) as glibc's resolver would: its nameservers, its search path, `ndots`. So
// `fetch http://web/` from a pod reaches `web.<ns>.svc.cluster.local`. A name the cluster DNS
// does not know falls back to the host's resolver. (The rules are glibc's res_search; this
// program is a standalone image and cannot import bosun's TypeScript, so they are restated here.)

import { lookup as hostLookup } from "node:dns";
import { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";

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

/** The pod's resolv.conf: nameservers, search path, ndots (glibc's default 1). */
function podResolvConf() {
  const path = process.env.BOSUN_RESOLV_CONF;
  if (!path) return null;
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const conf = { nameservers: [], searches: [], ndots: 1 };
  for (const raw of text.split("\n")) {
    const [keyword, ...rest] = raw
      .replace(/[#;].*$/, "")
      .trim()
      .split(/\s+/);
    if (keyword === "nameserver" && rest[0]) conf.nameservers.push(rest[0]);
    else if (keyword === "search" || keyword === "domain") conf.searches = rest;
    else if (keyword === "options")
      for (const o of rest)
        if (o.startsWith("ndots:")) conf.ndots = Math.min(Number(o.slice(6)), 15);
  }
  return conf.nameservers.length > 0 ? conf : null;
}

const resolvConf = podResolvConf();

/** res_search: with fewer than ndots dots the search path goes first, then the name as given. */
async function resolveName(name) {
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  resolver.setServers(resolvConf.nameservers);
  const absolute = name.endsWith(".");
  const bare = absolute ? name.slice(0, -1) : name;
  const searched = absolute ? [] : resolvConf.searches.map((s) => `${bare}.${s}`);
  const dots = bare.split(".").length - 1;
  const candidates = dots >= resolvConf.ndots ? [bare, ...searched] : [...searched, bare];
  for (const candidate of candidates) {
    try {
      const [address] = await resolver.resolve4(candidate);
      if (address) return address;
    } catch {
      // NXDOMAIN or NODATA: the next candidate
    }
  }
  return null;
}

/** http.request's `lookup`: the pod's resolv.conf first, the host's resolver after. */
function podLookup(hostname, options, callback) {
  resolveName(hostname).then((address) => {
    if (address === null) return hostLookup(hostname, options, callback);
    if (options.all) callback(null, [{ address, family: 4 }]);
    else callback(null, address, 4);
  });
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
        ...(resolvConf !== null && isIP(target.hostname) === 0 ? { lookup: podLookup } : {}),
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
