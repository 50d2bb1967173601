/**
 * A server's mesh credentials (cmd/node/mesh-credentials.ts): a server holding the cluster CA
 * presents a server's certificate, and replaces a kept one that is not (an agent's, or one from
 * before certificates had roles), since the API servers would take it for an agent.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createCertificateAuthority } from "../../../actors/apiserver/pki.ts";
import { ManualClock } from "../../../actors/system/clock.ts";
import { obtainMeshCredentials, writeMeshCredentials } from "../../../cmd/node/mesh-credentials.ts";
import { certificateRoleOfPem, issueNodeCertificate } from "../../../transport/node-certificate.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function serverFlags() {
  const dir = mkdtempSync(join(tmpdir(), "bosun-mesh-credentials-"));
  dirs.push(dir);
  const clock = new ManualClock(0, Date.now());
  const ca = createCertificateAuthority("bosun-ca", clock.wallMs());
  writeFileSync(join(dir, "ca.crt"), ca.certPem);
  writeFileSync(join(dir, "ca.key"), ca.keyPem);
  const flags = {
    dataDir: join(dir, "data"),
    caCertFile: join(dir, "ca.crt"),
    caKeyFile: join(dir, "ca.key"),
  };
  const obtain = () =>
    obtainMeshCredentials({ nodeId: "n1", flags, token: "t", peerAddresses: [], clock });
  return { ca, clock, flags, obtain };
}

describe("a server's mesh credentials", () => {
  it("signs itself a server's certificate, and keeps it across a restart", async () => {
    const { obtain } = serverFlags();
    const first = await obtain();
    expect(certificateRoleOfPem(first.material.certPem)).toBe("server");
    expect((await obtain()).material.certPem).toBe(first.material.certPem);
  });

  it("replaces a kept certificate that is not a server's", async () => {
    const { ca, clock, flags, obtain } = serverFlags();
    const agent = issueNodeCertificate(ca, "n1", "agent", clock.wallMs());
    writeMeshCredentials(flags.dataDir, agent);
    expect(certificateRoleOfPem(agent.certPem)).toBe("agent");
    const obtained = await obtain();
    expect(obtained.material.certPem).not.toBe(agent.certPem);
    expect(certificateRoleOfPem(obtained.material.certPem)).toBe("server");
  });

  it("reads a hollow-nodes host's role from its certificate", () => {
    const { ca, clock } = serverFlags();
    const pem = issueNodeCertificate(ca, "client-x", "hollow-nodes", clock.wallMs()).certPem;
    expect(certificateRoleOfPem(pem)).toBe("hollow-nodes");
  });
});
