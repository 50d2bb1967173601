/**
 * ServiceAccount tokens (pkg/serviceaccount): JWTs signed RS256 with the cluster's
 * service-account key (kubeadm's `sa.key`), shared by every API server so that any of them
 * verifies what another issued. A token names its issuer, audiences, expiry and, in the
 * `kubernetes.io` claim, its namespace, ServiceAccount and (when bound) pod, each with its uid:
 * the token authenticator accepts it only while the ServiceAccount, and the pod it is bound
 * to, still exist with those uids (bound service account tokens, KEP-1205).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  type KeyObject,
} from "node:crypto";

/** kube-apiserver's default `--service-account-issuer` in kubeadm clusters. */
export const DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local";
/** TokenRequest's default and minimum lifetimes (authentication/v1). */
export const DEFAULT_TOKEN_SECONDS = 3600;
export const MIN_TOKEN_SECONDS = 600;
/** A token's lifetime is capped (kube-apiserver's --service-account-max-token-expiration, unset: 48 h). */
export const MAX_TOKEN_SECONDS = 48 * 3600;

export interface BoundObject {
  kind: "Pod" | "Secret";
  name: string;
  uid: string;
}

export interface TokenClaims {
  iss: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  sub: string;
  "kubernetes.io": {
    namespace: string;
    serviceaccount: { name: string; uid: string };
    pod?: { name: string; uid: string };
  };
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export class ServiceAccountTokens {
  private readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The JWK `kid`: a hash of the public key, as kube-apiserver derives it. */
  readonly keyId: string;

  constructor(
    privateKeyPem: string,
    readonly issuer = DEFAULT_ISSUER,
  ) {
    this.privateKey = createPrivateKey(privateKeyPem);
    this.publicKey = createPublicKey(this.privateKey);
    const der = this.publicKey.export({ type: "spki", format: "der" });
    this.keyId = createHash("sha256").update(der).digest("base64url");
  }

  sign(claims: TokenClaims): string {
    const header = b64url(JSON.stringify({ alg: "RS256", kid: this.keyId }));
    const payload = b64url(JSON.stringify(claims));
    const signer = createSign("RSA-SHA256");
    signer.update(`${header}.${payload}`);
    return `${header}.${payload}.${signer.sign(this.privateKey).toString("base64url")}`;
  }

  /** The claims of a token this cluster signed and that is current at `nowS`, else null. */
  verify(token: string, nowS: number): TokenClaims | null {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const [header, payload, signature] = parts as [string, string, string];
    let claims: TokenClaims;
    try {
      const h = JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { alg?: string };
      if (h.alg !== "RS256") return null;
      const verifier = createVerify("RSA-SHA256");
      verifier.update(`${header}.${payload}`);
      if (!verifier.verify(this.publicKey, Buffer.from(signature, "base64url"))) return null;
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      return null;
    }
    if (claims.iss !== this.issuer) return null;
    if (typeof claims.exp !== "number" || claims.exp <= nowS) return null;
    if (typeof claims.nbf === "number" && claims.nbf > nowS + 60) return null;
    const k = claims["kubernetes.io"];
    if (typeof k?.namespace !== "string" || typeof k.serviceaccount?.name !== "string") return null;
    return claims;
  }

  /** The JWKS document (`/openid/v1/jwks`). */
  jwks(): object {
    return {
      keys: [
        { ...this.publicKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: this.keyId },
      ],
    };
  }

  /** The OIDC discovery document (`/.well-known/openid-configuration`). */
  openidConfiguration(): object {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/openid/v1/jwks`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
    };
  }
}
