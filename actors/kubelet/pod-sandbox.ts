/**
 * A container's sandbox when the kubelet runs as root: Linux namespaces through util-linux's
 * `unshare` and `nsenter`, so that the container sees its files where the pod spec says. Pure:
 * this file builds the argv and the shell script; the process runtime runs them.
 *
 *   unshare --mount --uts --pid --fork -- /bin/sh -c SANDBOX …      (a new mount, UTS and pid ns)
 *     SANDBOX, as PID 1 of the new pid namespace, in the host's view of the files:
 *       joins the container's cgroups (cgroups.ts);
 *       mounts its root: an overlay whose lower layer is the host's `/` and whose upper layer is
 *       the container's own directory, so the container sees the host's programs (the images
 *       are made of them) and its writes (`/tmp/healthy`) stay its own; /dev and /sys are bound
 *       in, /proc is mounted for the new pid namespace;
 *       bind-mounts each volume at its `mountPath` (its `subPath` inside the volume; `readOnly`
 *       remounted read-only), and the pod's /etc/hosts, /etc/hostname, /etc/resolv.conf and
 *       service account directory — each target made inside the new root (a symlink such as
 *       /var/run → /run resolved there, never on the host);
 *       sets the hostname (the pod's name) and chroots into the root, where INIT runs.
 *     INIT stays PID 1 (docker's --init): it runs the container's argv as its child, forwards
 *     SIGTERM, SIGINT and SIGHUP to it (a PID 1 without handlers would ignore them) and exits
 *     with its status, so the runtime sees the container's own exit code.
 *
 * Signals meant for the container go to INIT (`initPidOf`), not to `unshare`, which would die
 * at once and leave the container's graceful stop unwatched. `nsenter` enters a running
 * container (exec probes, `kubectl exec`): its namespaces, root and working directory.
 *
 * `shareProcessNamespace`: the pod gets a pause process (PAUSE), PID 1 of a pid namespace of
 * its own, and each container joins that namespace with `nsenter --pid` inside its new mount
 * and UTS namespaces instead of making its own (Kubernetes' pause container has this role):
 *
 *   unshare --mount --uts --fork -- nsenter --target=PAUSE --pid -- /bin/sh -c SANDBOX …
 *
 * INIT is then not PID 1 of its namespace but works the same; the container's processes are
 * seen (and may be signalled) by its pod's other containers.
 *
 * Not done: user and network namespaces (pods share the host's network, each on its own
 * loopback address).
 */

export interface SandboxMount {
  /** A host path: a directory, or a file when `file`. */
  source: string;
  /** Where the container sees it. */
  target: string;
  readOnly: boolean;
  file: boolean;
}

export interface SandboxPlan {
  /** The container's overlay: `<dir>/upper`, `<dir>/work` and the mount point `<dir>/root`. */
  dir: string;
  hostname: string;
  /** The container's working directory (inside its root; the host's path works there too). */
  cwd: string;
  /** `cgroup.procs` files to join before anything runs. */
  cgroupProcs: string[];
  mounts: SandboxMount[];
}

/** A word for /bin/sh: single-quoted, `'` as `'\''`. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

const INIT = [
  'cd "$1" 2>/dev/null || cd /',
  "shift",
  // a background job's stdin would be /dev/null (no job control): hand it the container's own
  "exec 4<&0",
  '"$@" 0<&4 4<&- &',
  "child=$!",
  "trap 'kill -TERM \"$child\" 2>/dev/null' TERM",
  "trap 'kill -INT \"$child\" 2>/dev/null' INT",
  "trap 'kill -HUP \"$child\" 2>/dev/null' HUP",
  // wait returns early when a trapped signal arrives: wait again until the child is gone
  'while :; do wait "$child"; status=$?; kill -0 "$child" 2>/dev/null || exit "$status"; done',
].join("\n");

/** Makes `target` inside the new root (a directory, or an empty file) and prints its real path. */
const MAKE_TARGET_DIR = 'mkdir -p "$1" && realpath "$1"';
const MAKE_TARGET_FILE = 'mkdir -p "$(dirname "$1")" && touch "$1" && realpath "$1"';

/** The sandbox script (see the header); `$@` is the container's argv. */
export function sandboxScript(plan: SandboxPlan): string {
  const q = shellQuote;
  const root = `${plan.dir}/root`;
  const lines = [
    "set -e",
    ...plan.cgroupProcs.map((p) => `echo $$ > ${q(p)}`),
    "mount --make-rprivate /",
    `mount -t overlay overlay -o ${q(`lowerdir=/,upperdir=${plan.dir}/upper,workdir=${plan.dir}/work`)} ${q(root)}`,
    `mount --rbind /dev ${q(`${root}/dev`)}`,
    `mount --rbind /sys ${q(`${root}/sys`)}`,
    `mount -t proc proc ${q(`${root}/proc`)}`,
  ];
  for (const m of plan.mounts) {
    const make = m.file ? MAKE_TARGET_FILE : MAKE_TARGET_DIR;
    lines.push(`t=$(chroot ${q(root)} /bin/sh -c ${q(make)} - ${q(m.target)})`);
    lines.push(`mount --bind ${q(m.source)} ${q(root)}"$t"`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${q(root)}"$t"`);
  }
  lines.push(`hostname ${q(plan.hostname)}`);
  // the sandbox is set up: exec (nsenter) now sees what the container will see
  lines.push(`echo ready >&${SANDBOX_READY_FD}`, `exec ${SANDBOX_READY_FD}>&-`);
  lines.push(`exec chroot ${q(root)} /bin/sh -c ${q(INIT)} bosun-init ${q(plan.cwd)} "$@"`);
  return lines.join("\n");
}

/**
 * The fd the sandbox says "ready" on (then closes) once its mounts and hostname are in place,
 * just before INIT runs: the runtime hands it a pipe there.
 */
export const SANDBOX_READY_FD = 5;

/**
 * The argv that runs `argv` in a new sandbox: in a pid namespace of its own, or in the one whose
 * PID 1 is `podPause` (a pod with shareProcessNamespace).
 */
export function sandboxArgv(plan: SandboxPlan, argv: string[], podPause?: number): string[] {
  const namespaces =
    podPause === undefined
      ? ["unshare", "--mount", "--uts", "--pid", "--fork", "--"]
      : [
          "unshare",
          "--mount",
          "--uts",
          "--fork",
          "--",
          "nsenter",
          `--target=${podPause}`,
          "--pid",
          "--",
        ];
  return [...namespaces, "/bin/sh", "-c", sandboxScript(plan), "bosun-sandbox", ...argv];
}

/**
 * A pod's pause process: PID 1 of the pod's shared pid namespace. It says "ready" on
 * SANDBOX_READY_FD, then sleeps; as PID 1 it would ignore a signal it has no handler for, so
 * TERM is trapped. Its own process group (the runtime starts it detached) holds only it.
 */
export function pauseArgv(): string[] {
  const script = [
    `echo ready >&${SANDBOX_READY_FD}`,
    `exec ${SANDBOX_READY_FD}>&-`,
    "trap 'exit 0' TERM INT",
    "while :; do sleep 3600 & wait $!; done",
  ].join("\n");
  return ["unshare", "--pid", "--fork", "--", "/bin/sh", "-c", script, "bosun-pause"];
}

/** The argv that runs `argv` inside the running container whose INIT is `initPid`. */
export function enterArgv(initPid: number, argv: string[]): string[] {
  return [
    "nsenter",
    `--target=${initPid}`,
    "--mount",
    "--uts",
    "--pid",
    "--root",
    "--wd",
    "--",
    ...argv,
  ];
}

/** The /etc/hosts Kubernetes' kubelet writes for a pod (managedHostsFileContent). */
export function podHostsFile(podIP: string, hostname: string): string {
  return [
    "# Kubernetes-managed hosts file.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
    `${podIP}\t${hostname}`,
    "",
  ].join("\n");
}
