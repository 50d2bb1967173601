/**
 * The image catalog: references normalize (registry, tag, digest), each image has the real
 * one's ENTRYPOINT and CMD, and command/args follow Kubernetes' rules (command replaces the
 * ENTRYPOINT, args the CMD) with no extra `/bin/sh -c`; the image's own programs run here.
 */
import { describe, expect, it } from "vitest";
import { containerArgv, resolveImage } from "../../../actors/kubelet/image-catalog.ts";

const argv = (image: string, command: string[], args: string[]) => {
  const config = resolveImage(image);
  if (config === null) throw new Error(`${image} not in the catalog`);
  return containerArgv(config, command, args);
};
const tail = (a: string[]) => a.map((x) => x.replace(/^.*\/images\//, "images/"));

describe("image catalog", () => {
  it("normalizes references; unknown images are not found", () => {
    expect(resolveImage("docker.io/library/busybox:1.36")?.image).toBe("busybox");
    expect(resolveImage("registry.k8s.io/busybox")?.image).toBe("registry.k8s.io/busybox");
    expect(resolveImage("registry.k8s.io/e2e-test-images/agnhost:2.40")?.image).toBe(
      "registry.k8s.io/e2e-test-images/agnhost",
    );
    expect(resolveImage("nginx@sha256:abc")?.image).toBe("nginx");
    expect(resolveImage("example.com/nope:1")).toBeNull();
  });

  it("busybox runs args as an argv (the liveness-exec example), no extra sh -c", () => {
    const script = "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600";
    expect(argv("registry.k8s.io/busybox", [], ["/bin/sh", "-c", script])).toEqual([
      "/bin/sh",
      "-c",
      script,
    ]);
    expect(argv("busybox", ["sleep"], ["3600"])).toEqual(["sleep", "3600"]);
    expect(argv("busybox", [], [])).toEqual(["sh"]);
    // command without args: the image's CMD is not used
    expect(argv("busybox", ["env"], [])).toEqual(["env"]);
  });

  it("agnhost: ENTRYPOINT /agnhost with the subcommand in args, or named by command", () => {
    expect(tail(argv("registry.k8s.io/e2e-test-images/agnhost:2.40", [], ["liveness"]))).toEqual([
      process.execPath,
      "images/agnhost.mjs",
      "liveness",
    ]);
    expect(
      tail(
        argv(
          "registry.k8s.io/e2e-test-images/agnhost",
          ["/agnhost", "netexec"],
          ["--http-port=8080"],
        ),
      ),
    ).toEqual([process.execPath, "images/agnhost.mjs", "netexec", "--http-port=8080"]);
    expect(tail(argv("registry.k8s.io/e2e-test-images/agnhost", [], []))).toEqual([
      process.execPath,
      "images/agnhost.mjs",
      "pause",
    ]);
  });

  it("nginx serves on its real port; http-echo reads its flags", () => {
    expect(resolveImage("nginx:1.25")?.env).toEqual({ ECHO_DEFAULT_PORT: "80" });
    expect(tail(argv("nginx", [], []))).toEqual([
      process.execPath,
      "images/echo.mjs",
      "nginx",
      "-g",
      "daemon off;",
    ]);
    expect(tail(argv("hashicorp/http-echo", [], ["-text=hello"]))).toEqual([
      process.execPath,
      "images/echo.mjs",
      "-text=hello",
    ]);
  });

  it("bosun/sh keeps its shell form: args joined into one sh -c", () => {
    expect(argv("bosun/sh", [], ["echo a;", "echo b"])).toEqual([
      "/bin/sh",
      "-c",
      "echo a; echo b",
    ]);
  });
});
