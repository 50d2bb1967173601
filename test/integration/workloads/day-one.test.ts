/**
 * Issue #21, a newcomer's first day with kubectl, on `bosun up`'s built-in workloads (one
 * 3-server cluster for the file): `kubectl describe` tells the story through Events (an unknown
 * image, a crash loop, a liveness kill, a scale-up, a node's registration), the environment
 * comes from ConfigMaps and Secrets (envFrom, keyRefs, `$(VAR)`), a missing required key is
 * CreateContainerConfigError, the docs' examples run unchanged (copied in docs-examples/), and
 * kubectl exec (with and without -it, exit codes), cp both ways, attach, run -it --rm and
 * port-forward work; kubectl top reads metrics.k8s.io from the kubelets' Summary API, and an
 * HPA made by kubectl autoscale scales a CPU-burning Deployment up, and down once it stops.
 *
 * Everything slow (probes that fail after 10–30 s) is applied first, and checked last.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../support/local-cluster.ts";
import { waitFor } from "../../support/wait.ts";
import { kubectl, kubectlOk, spawnKubectl } from "../apiserver/kubectl-harness.ts";
import { waitForReadyNodes } from "./workload-harness.ts";

const EXAMPLES = join(import.meta.dirname, "docs-examples");
const example = (file: string) => readFileSync(join(EXAMPLES, file), "utf8");

/** Probes that fail after 30 s take a while on a loaded machine. */
const SLOW_MS = 150_000;

let cluster: LocalCluster;

beforeAll(async () => {
  // short HPA timings, so a scale-up and the scale-down after it fit in a test
  cluster = await LocalCluster.start(
    3,
    [
      "--horizontal-pod-autoscaler-sync-period",
      "2s",
      "--horizontal-pod-autoscaler-downscale-stabilization",
      "5s",
    ],
    true,
  );
  await waitForReadyNodes(cluster, 3);
  await kubectlOk(cluster, ["apply", "-f", "-"], example("exec-liveness.yaml"));
  await kubectlOk(cluster, ["apply", "-f", "-"], example("http-liveness.yaml"));
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

type Json = Record<string, unknown>;

async function containerStatus(pod: string): Promise<Json & { restartCount?: number }> {
  const out = JSON.parse(await kubectlOk(cluster, ["get", "pod", pod, "-o", "json"]));
  return (out.status?.containerStatuses?.[0] ?? {}) as Json;
}

/** Waits until pod `name` is in `phase`. */
async function podPhase(name: string, phase: string, timeoutMs?: number): Promise<void> {
  await waitFor(
    `${name} ${phase}`,
    async () =>
      (await kubectlOk(cluster, ["get", "pod", name, "-o", "jsonpath={.status.phase}"])) === phase,
    timeoutMs,
  );
}

/** `kubectl apply` of one object given as JSON. */
const applyObject = (object: Json) =>
  kubectlOk(cluster, ["apply", "-f", "-"], JSON.stringify(object));

/** `kubectl describe` of `what` once its Events section contains every one of `lines`. */
async function describeShows(what: string[], lines: (string | RegExp)[], timeoutMs = 60_000) {
  return waitFor(
    `describe ${what.join(" ")} to show ${lines.join(", ")}`,
    async () => {
      const out = await kubectlOk(cluster, ["describe", ...what]);
      const events = out.slice(out.lastIndexOf("Events:"));
      const missing = lines.filter((l) =>
        typeof l === "string" ? !events.includes(l) : !l.test(events),
      );
      if (missing.length > 0) throw new Error(`missing ${missing.join(" | ")} in ${events}`);
      return out;
    },
    timeoutMs,
  );
}

describe("kubectl describe tells the story through Events", () => {
  it("an unknown image: the pull error, ErrImagePull, then ImagePullBackOff", async () => {
    await kubectlOk(cluster, ["run", "typo", "--image=ngnix:latest"]);
    const out = await describeShows(
      ["pod", "typo"],
      [
        'Pulling image "ngnix:latest"',
        'Failed to pull image "ngnix:latest": image "ngnix:latest" not found',
        "Error: ErrImagePull",
        'Back-off pulling image "ngnix:latest"',
        "Error: ImagePullBackOff",
      ],
    );
    expect(out).toContain("Failed to pull image");
    await waitFor("typo waiting in ImagePullBackOff or ErrImagePull", async () => {
      const state = (await containerStatus("typo")).state as Json | undefined;
      return ["ImagePullBackOff", "ErrImagePull"].includes(
        String((state?.waiting as Json | undefined)?.reason),
      );
    });
  });

  it("a crash loop: Created and Started each run, then BackOff restarting", async () => {
    await kubectlOk(cluster, ["run", "crasher", "--image=busybox", "--", "sh", "-c", "exit 3"]);
    await describeShows(
      ["pod", "crasher"],
      [
        "Created container: crasher",
        "Started container crasher",
        /Warning\s+BackOff\s+.*Back-off restarting failed container crasher in pod crasher_default/,
      ],
    );
  });

  it("a scale-up: ScalingReplicaSet on the Deployment, SuccessfulCreate on its ReplicaSet", async () => {
    await kubectlOk(cluster, ["create", "deployment", "web", "--image=nginx", "--replicas=1"]);
    await describeShows(["deployment", "web"], [/Scaled up replica set web-\w+ from 0 to 1/]);
    await kubectlOk(cluster, ["scale", "deployment", "web", "--replicas=3"]);
    await describeShows(["deployment", "web"], [/Scaled up replica set web-\w+ from 1 to 3/]);
    await describeShows(
      ["replicaset", "-l", "app=web"],
      [/SuccessfulCreate\s+.*Created pod: web-/],
    );
  });

  it("a node: Starting, NodeReady from its kubelet, RegisteredNode from the node controller", async () => {
    const node = (await kubectlOk(cluster, ["get", "nodes", "-o", "name"])).split("\n")[0]!;
    await describeShows(
      [node],
      ["Starting kubelet.", "status is now: NodeReady", /Registered Node \S+ in Controller/],
    );
  });
});

describe("the environment comes from ConfigMaps and Secrets", () => {
  it("the docs' envFrom and configMapKeyRef examples, with $(VAR) in the command", async () => {
    await kubectlOk(cluster, ["apply", "-f", "-"], example("configmap-multikeys.yaml"));
    const run = async (file: string) => {
      await kubectlOk(cluster, ["apply", "-f", "-"], example(file));
      await podPhase("dapi-test-pod", "Succeeded");
      const logs = await kubectlOk(cluster, ["logs", "dapi-test-pod"]);
      await kubectlOk(cluster, ["delete", "pod", "dapi-test-pod"]);
      return logs;
    };
    const env = await run("pod-configmap-envFrom.yaml");
    expect(env).toContain("SPECIAL_LEVEL=very");
    expect(env).toContain("SPECIAL_TYPE=charm");
    expect(await run("pod-configmap-env-var-valueFrom.yaml")).toBe("very charm\n");
    expect(await run("pod-configmap-volume.yaml")).toBe("SPECIAL_LEVEL\nSPECIAL_TYPE\n");
  });

  it("secretKeyRef and envFrom a Secret with a prefix; a missing required key is CreateContainerConfigError", async () => {
    await kubectlOk(cluster, [
      "create",
      "secret",
      "generic",
      "db",
      "--from-literal=password=s3cr3t",
    ]);
    const pod = (name: string, env: Json[], envFrom: Json[] = []): Json => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        containers: [{ name: "c", image: "busybox", command: ["sh", "-c", "env"], env, envFrom }],
      },
    });
    await applyObject(
      pod(
        "with-secret",
        [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }],
        [{ secretRef: { name: "db" }, prefix: "DB_" }],
      ),
    );
    await podPhase("with-secret", "Succeeded");
    const logs = await kubectlOk(cluster, ["logs", "with-secret"]);
    expect(logs).toContain("PASSWORD=s3cr3t");
    expect(logs).toContain("DB_password=s3cr3t");

    await applyObject(
      pod("missing-key", [
        { name: "X", valueFrom: { configMapKeyRef: { name: "special-config", key: "nope" } } },
      ]),
    );
    await waitFor("missing-key waiting in CreateContainerConfigError", async () => {
      const state = (await containerStatus("missing-key")).state as Json | undefined;
      return (state?.waiting as Json | undefined)?.reason === "CreateContainerConfigError";
    });
    await describeShows(
      ["pod", "missing-key"],
      ["Error: couldn't find key nope in ConfigMap default/special-config"],
    );
  });
});

describe("pods see their files where the spec says, within their limits", () => {
  it("a Secret at its mountPath, one key by subPath, read-only", async () => {
    await kubectlOk(cluster, [
      "create",
      "secret",
      "generic",
      "tls-files",
      "--from-literal=tls.crt=CERT",
      "--from-literal=tls.key=KEY",
    ]);
    await applyObject({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "mounts" },
      spec: {
        restartPolicy: "Never",
        volumes: [{ name: "tls", secret: { secretName: "tls-files" } }],
        containers: [
          {
            name: "c",
            image: "busybox",
            command: [
              "sh",
              "-c",
              "cat /etc/tls/tls.crt; echo; cat /srv/key; echo; hostname; touch /etc/tls/x || echo read-only",
            ],
            volumeMounts: [
              { name: "tls", mountPath: "/etc/tls", readOnly: true },
              { name: "tls", mountPath: "/srv/key", subPath: "tls.key" },
            ],
          },
        ],
      },
    });
    await podPhase("mounts", "Succeeded");
    const logs = await kubectlOk(cluster, ["logs", "mounts"]);
    expect(logs).toContain("CERT\nKEY\nmounts\n");
    expect(logs).toContain("read-only");
  });

  it("the docs' memory-demo-2 exceeds its memory limit: OOMKilled", async () => {
    await kubectlOk(cluster, ["create", "namespace", "mem-example"]);
    await kubectlOk(cluster, ["apply", "-f", "-"], example("memory-request-limit-2.yaml"));
    await waitFor(
      "memory-demo-2 OOMKilled",
      async () => {
        const out = JSON.parse(
          await kubectlOk(cluster, [
            "-n",
            "mem-example",
            "get",
            "pod",
            "memory-demo-2",
            "-o",
            "json",
          ]),
        );
        const c = out.status?.containerStatuses?.[0] ?? {};
        return (
          c.lastState?.terminated?.reason === "OOMKilled" ||
          c.state?.terminated?.reason === "OOMKilled"
        );
      },
      60_000,
    );
  });
});

describe("the docs' probe examples run unchanged", () => {
  it(
    "liveness-http (agnhost liveness): Unhealthy after 10 s, killed and restarted",
    async () => {
      await describeShows(
        ["pod", "liveness-http"],
        ["Liveness probe failed", "Container liveness failed liveness probe, will be restarted"],
        SLOW_MS,
      );
      await waitFor(
        "liveness-http restarted",
        async () => ((await containerStatus("liveness-http")).restartCount ?? 0) >= 1,
        SLOW_MS,
      );
    },
    SLOW_MS * 2,
  );

  it(
    "liveness-exec (busybox, cat /tmp/healthy): Unhealthy once the file goes, killed and restarted",
    async () => {
      await describeShows(
        ["pod", "liveness-exec"],
        [
          'Pulling image "registry.k8s.io/busybox:1.27.2"',
          "Liveness probe failed",
          "Container liveness failed liveness probe, will be restarted",
        ],
        SLOW_MS,
      );
      await waitFor(
        "liveness-exec restarted",
        async () => ((await containerStatus("liveness-exec")).restartCount ?? 0) >= 1,
        SLOW_MS,
      );
      expect((await kubectl(cluster, ["get", "pod", "liveness-exec"])).stdout).toContain("Running");
    },
    SLOW_MS * 2,
  );
});

/**
 * kubectl with a terminal (util-linux `script` gives it a pty), `input` typed into it — once
 * its output shows `after`, when given.
 */
function kubectlWithTerminal(
  args: string[],
  input: string,
  after?: string,
): Promise<{ code: number | null; out: string }> {
  const env = {
    ...process.env,
    KUBECONFIG: join(cluster.runDir, "kubeconfig"),
    HOME: cluster.runDir,
  };
  const command = ["stty cols 120 rows 40;", "kubectl", ...args.map((a) => `'${a}'`)].join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", command, "/dev/null"], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let typed = false;
    const type = () => {
      if (typed || (after !== undefined && !out.includes(after))) return;
      typed = true;
      child.stdin.write(input);
    };
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      type();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
      type();
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, out }));
    type();
  });
}

describe("streaming: kubectl exec, cp, attach, run -it and port-forward", () => {
  beforeAll(async () => {
    await kubectlOk(cluster, ["run", "box", "--image=busybox", "--", "sleep", "3600"]);
    await podPhase("box", "Running");
  });

  it("exec runs in the pod (its hostname, its files), with stdout, stderr and the exit code", async () => {
    const r = await kubectl(cluster, [
      "exec",
      "box",
      "--",
      "sh",
      "-c",
      "hostname; echo oops >&2; exit 3",
    ]);
    expect(r.stdout).toBe("box\n");
    expect(r.stderr).toContain("oops");
    expect(r.stderr).toContain("command terminated with exit code 3");
    expect(r.code).toBe(3);
    expect(
      await kubectlOk(
        cluster,
        ["exec", "-i", "box", "--", "sh", "-c", "cat > /tmp/x; wc -c < /tmp/x"],
        "twelve bytes",
      ),
    ).toBe("12\n");
  });

  it("exec -it is an interactive shell on a terminal of the client's size", async () => {
    const r = await kubectlWithTerminal(
      ["exec", "-it", "box", "--", "sh"],
      "stty size; echo $((6*7)); exit 4\n",
    );
    expect(r.out).toContain("40 120");
    expect(r.out).toContain("42");
    expect(r.code).toBe(4);
  });

  it("cp into the pod and back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bosun-cp-"));
    writeFileSync(join(dir, "in.txt"), "copied both ways\n");
    await kubectlOk(cluster, ["cp", join(dir, "in.txt"), "box:/tmp/in.txt"]);
    expect(await kubectlOk(cluster, ["exec", "box", "--", "cat", "/tmp/in.txt"])).toBe(
      "copied both ways\n",
    );
    await kubectlOk(cluster, ["cp", "box:/tmp/in.txt", join(dir, "back.txt")]);
    expect(readFileSync(join(dir, "back.txt"), "utf8")).toBe("copied both ways\n");
  });

  it("attach streams what the container writes from now on", async () => {
    await kubectlOk(cluster, [
      "run",
      "ticker",
      "--image=busybox",
      "--",
      "sh",
      "-c",
      "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done",
    ]);
    await podPhase("ticker", "Running");
    const attached = spawnKubectl(cluster, ["attach", "ticker"]);
    try {
      await waitFor(
        "two ticks through attach",
        () => (attached.output().match(/tick \d+/g) ?? []).length >= 2,
      );
    } finally {
      attached.child.kill("SIGKILL");
    }
  });

  it("run -it --rm: an interactive shell in a new pod, deleted when it exits", async () => {
    const r = await kubectlWithTerminal(
      ["run", "-it", "--rm", "scratch", "--image=busybox", "--restart=Never", "--", "sh"],
      "echo ok-$((40+2)); exit 0\n",
      "If you don't see a command prompt",
    );
    expect(r.out).toContain("ok-42");
    expect(r.out).toContain('pod "scratch" deleted');
  });

  it("port-forward to agnhost netexec, then an HTTP GET through it", async () => {
    await kubectlOk(cluster, [
      "run",
      "netexec",
      "--image=registry.k8s.io/e2e-test-images/agnhost:2.40",
      "--",
      "netexec",
      "--http-port=8080",
    ]);
    await podPhase("netexec", "Running");
    const forward = spawnKubectl(cluster, ["port-forward", "pod/netexec", ":8080"]);
    try {
      const port = await waitFor(
        "the local port",
        () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(forward.output())?.[1],
      );
      const hostname = await waitFor("GET /hostname through the tunnel", async () => {
        const response = await fetch(`http://127.0.0.1:${port}/hostname`);
        return response.ok ? response.text() : false;
      });
      expect(hostname).toBe("netexec");
      expect(await (await fetch(`http://127.0.0.1:${port}/echo?msg=twice`)).text()).toBe("twice");
    } finally {
      forward.child.kill("SIGKILL");
    }
  });
});

describe("metrics: kubectl top and the HorizontalPodAutoscaler", () => {
  it("top pods and nodes show a CPU-burning pod's usage", async () => {
    await kubectlOk(cluster, [
      "run",
      "burner",
      "--image=polinux/stress",
      "--",
      "stress",
      "--cpu",
      "1",
    ]);
    const line = await waitFor(
      "burner's CPU in kubectl top pod",
      async () => {
        const out = await kubectlOk(cluster, ["top", "pod", "burner", "--no-headers"]);
        const match = /^burner\s+(\d+)m\s+(\d+)Mi/.exec(out.trim());
        return match && Number(match[1]) > 0 ? match : false;
      },
      60_000,
    );
    expect(Number(line[1])).toBeGreaterThan(0);
    const nodes = await kubectlOk(cluster, ["top", "nodes", "--no-headers"]);
    expect(nodes.trim().split("\n")).toHaveLength(3);
    const discovery = JSON.parse(
      await kubectlOk(cluster, ["get", "--raw", "/apis/metrics.k8s.io/v1beta1"]),
    );
    expect(discovery.resources.map((r: { name: string }) => r.name).sort()).toEqual([
      "nodes",
      "pods",
    ]);
  });

  it("kubectl autoscale: the HPA scales a CPU-burning Deployment up, and down when the load stops", async () => {
    // burns a core for 30 s, then idles
    await kubectlOk(cluster, [
      "create",
      "deployment",
      "cruncher",
      "--image=busybox",
      "--",
      "sh",
      "-c",
      "end=$(($(date +%s)+30)); while [ $(date +%s) -lt $end ]; do :; done; sleep 3600",
    ]);
    await kubectlOk(cluster, ["set", "resources", "deployment", "cruncher", "--requests=cpu=100m"]);
    expect(
      await kubectlOk(cluster, [
        "autoscale",
        "deployment",
        "cruncher",
        "--cpu-percent=50",
        "--min=1",
        "--max=3",
      ]),
    ).toContain("horizontalpodautoscaler.autoscaling/cruncher autoscaled");
    const replicas = async () =>
      Number(
        await kubectlOk(cluster, [
          "get",
          "deployment",
          "cruncher",
          "-o",
          "jsonpath={.spec.replicas}",
        ]),
      );
    await waitFor("the HPA to scale cruncher up", async () => (await replicas()) > 1, 90_000);
    expect(await kubectlOk(cluster, ["get", "hpa", "cruncher"])).toMatch(
      /Deployment\/cruncher\s+cpu: \d+%\/50%/,
    );
    await waitFor(
      "the HPA to scale cruncher back down",
      async () => (await replicas()) === 1,
      120_000,
    );
    await describeShows(
      ["hpa", "cruncher"],
      [
        /SuccessfulRescale\s+.*New size: [23]; reason: cpu resource utilization/,
        /New size: 1; reason/,
      ],
    );
  }, 300_000);
});
