/**
 * Transcript tests in the style of etcd-io/raft's testdata/*.txt: each file is a sequence of
 * commands, each followed by `----` and the expected state of the cluster afterwards. They read
 * as a table of steps and states. Regenerate after a deliberate behaviour change with
 * REWRITE_TRANSCRIPTS=1 and review the diff.
 *
 * Commands:
 *   cluster n1 n2 n3 [prevote=off] [checkquorum=off]   start a fresh cluster
 *   campaign n1 | propose n1 data | read n1 ctx | transfer n1 n2
 *   tick n1 [count] | tick-all [count] | stabilize
 *   isolate n1 | heal
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../../raft/core/errors.ts";
import { bytes, Network, type NodeOptions, str } from "./network.ts";

const DIR = join(import.meta.dirname, "testdata");

function describeCluster(net: Network): string {
  const lines: string[] = [];
  for (const [id, p] of net.peers) {
    const s = p.node.status();
    const reads = p.readStates.map((r) => `${str(r.requestCtx)}@${r.index}`);
    p.readStates = [];
    lines.push(
      `${id}: ${s.role} term=${s.term} lead=${s.lead ?? "none"} commit=${s.commit} applied=[${net.appliedData(id).join(",")}]` +
        (reads.length > 0 ? ` reads=[${reads.join(",")}]` : ""),
    );
  }
  return lines.join("\n");
}

function runCommand(net: Network | null, line: string): { net: Network; out: string } {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd === "cluster") {
    const ids = args.filter((a) => !a.includes("="));
    const opts: NodeOptions = {};
    if (args.includes("prevote=off")) opts.preVote = false;
    if (args.includes("checkquorum=off")) opts.checkQuorum = false;
    const fresh = new Network(ids, opts);
    return { net: fresh, out: describeCluster(fresh) };
  }
  if (!net) throw new Error("no cluster yet");
  let note = "";
  const a0 = args[0] ?? "";
  try {
    switch (cmd) {
      case "campaign":
        net.node(a0).campaign();
        break;
      case "propose":
        net.node(a0).propose(bytes(args[1] ?? ""));
        break;
      case "read":
        net.node(a0).readIndex(bytes(args[1] ?? ""));
        break;
      case "transfer":
        net.node(a0).transferLeader(args[1] ?? "");
        break;
      case "tick":
        net.tick(a0, Number(args[1] ?? 1));
        break;
      case "tick-all":
        for (let i = 0; i < Number(a0 || 1); i++) net.tickAll();
        break;
      case "stabilize":
        net.stabilize();
        break;
      case "isolate":
        net.isolate(a0);
        break;
      case "heal":
        net.heal();
        break;
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  } catch (e) {
    if (!(e instanceof ProposalDroppedError)) throw e;
    note = `error: ${e.reason}\n`;
  }
  return { net, out: note + describeCluster(net) };
}

const files = readdirSync(DIR).filter((f) => f.endsWith(".txt"));

describe("transcripts", () => {
  for (const file of files) {
    it(file, () => {
      const path = join(DIR, file);
      const blocks = readFileSync(path, "utf8").split(/\n\n+(?=[^\n])/);
      let net: Network | null = null;
      const rewritten: string[] = [];
      for (const block of blocks) {
        const lines = block.split("\n");
        const sep = lines.indexOf("----");
        const head = (sep >= 0 ? lines.slice(0, sep) : lines).filter((l) => l.trim() !== "");
        const commands = head.filter((l) => l.trim() !== "" && !l.startsWith("#"));
        if (commands.length === 0) {
          rewritten.push(block.trimEnd());
          continue;
        }
        let out = "";
        for (const c of commands) ({ net, out } = runCommand(net, c));
        const expected =
          sep >= 0
            ? lines
                .slice(sep + 1)
                .join("\n")
                .trim()
            : "";
        rewritten.push(`${head.join("\n")}\n----\n${out}`);
        if (!process.env.REWRITE_TRANSCRIPTS)
          expect(`${head.join("\n")}\n${out}`).toBe(`${head.join("\n")}\n${expected}`);
      }
      if (process.env.REWRITE_TRANSCRIPTS) writeFileSync(path, `${rewritten.join("\n\n")}\n`);
    });
  }
});
