// stress (polinux/stress), the part the docs' memory examples use: `--vm N --vm-bytes SIZE
// [--vm-hang S]` allocates SIZE (touching every page, so it counts against the memory limit)
// in each of N workers and holds it; `--cpu N` spins N busy loops. Runs until killed.
import { fork } from "node:child_process";

const args = process.argv.slice(2);
const value = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const UNITS = { "": 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
const bytes = (text) => {
  const match = /^(\d+)([BKMG]?)$/i.exec(text ?? "256M");
  return match ? Number(match[1]) * UNITS[match[2].toUpperCase()] : 256 * 1024 ** 2;
};

if (process.env.STRESS_WORKER === "vm") {
  const held = [];
  const chunk = 1024 * 1024;
  for (let left = bytes(process.env.STRESS_VM_BYTES); left > 0; left -= chunk)
    held.push(Buffer.alloc(Math.min(chunk, left), 1));
  setInterval(() => held.length, 1 << 30);
} else if (process.env.STRESS_WORKER === "cpu") {
  for (;;);
} else {
  const vm = Number(value("--vm") ?? 0);
  const cpu = Number(value("--cpu") ?? 0);
  console.log(`stress: info: dispatching hogs: ${cpu} cpu, 0 io, ${vm} vm, 0 hdd`);
  const spawnWorker = (kind) =>
    fork(process.argv[1], [], {
      env: { ...process.env, STRESS_WORKER: kind, STRESS_VM_BYTES: value("--vm-bytes") ?? "256M" },
    }).on("exit", (code, signal) => {
      console.log(`stress: FAIL: worker ${kind} ended (${signal ?? code})`);
      process.exit(1);
    });
  for (let i = 0; i < vm; i++) spawnWorker("vm");
  for (let i = 0; i < cpu; i++) spawnWorker("cpu");
  process.on("SIGTERM", () => process.exit(0));
}
