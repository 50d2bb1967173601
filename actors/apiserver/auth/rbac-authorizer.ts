/**
 * The RBAC authorizer (plugin/pkg/auth/authorizer/rbac): allows what some binding of the user
 * grants, and otherwise has no opinion. It reads the four RBAC collections from this API
 * server's watch cache (what kube-apiserver's RBAC informers hold) and keeps the index built
 * from them until a watch on the RBAC prefix says something changed: a request costs a walk of
 * the bindings, not a list. Without that watch (it could not start, or it ended) every request
 * lists again, which is correct, only slower; the next request tries to watch again.
 */

import type { WatchHandle } from "../../../raft/client/store-client.ts";
import { type ResourceInfo, resourceByPlural } from "../../api/resources.ts";
import type { ObjectStore } from "../object-store.ts";
import { collectionPrefix, REGISTRY_PREFIX } from "../registry-keys.ts";
import {
  type Attributes,
  type Authorizer,
  type AuthorizerAnswer,
  NO_OPINION,
} from "./attributes.ts";
import { RBAC_GROUP } from "./bootstrap-policy.ts";
import { PolicyIndex } from "./policy-index.ts";

const KINDS = ["clusterroles", "roles", "clusterrolebindings", "rolebindings"] as const;
const RBAC_RESOURCES = KINDS.map((plural) => resourceByPlural(plural, RBAC_GROUP) as ResourceInfo);
const RBAC_PREFIX = `${REGISTRY_PREFIX}${RBAC_GROUP}/`;

export class RbacAuthorizer implements Authorizer {
  private index: PolicyIndex | null = null;
  /** The RBAC objects changed since the index was built (or it is not watched). */
  private stale = true;
  private watch: WatchHandle | null = null;
  private watching: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly store: ObjectStore) {}

  /** The policy as this server's cache has it now. */
  async policy(): Promise<PolicyIndex> {
    if (this.index !== null && !this.stale) return this.index;
    // marked fresh before reading: a change during the reads marks it stale again
    this.stale = this.watch === null;
    const lists = await Promise.all(
      RBAC_RESOURCES.map((r) =>
        this.store.list(collectionPrefix(r, null), { serializable: true, cached: true }),
      ),
    );
    const [clusterRoles, roles, clusterRoleBindings, roleBindings] = lists.map((l) => l.items);
    this.index = new PolicyIndex({
      clusterRoles: clusterRoles ?? [],
      roles: roles ?? [],
      clusterRoleBindings: clusterRoleBindings ?? [],
      roleBindings: roleBindings ?? [],
    });
    if (this.watch === null && this.watching === null && !this.stopped)
      this.startWatch(Math.min(...lists.map((l) => l.revision)));
    return this.index;
  }

  async authorize(attributes: Attributes): Promise<AuthorizerAnswer> {
    const reason = (await this.policy()).allows(attributes);
    return reason === null ? NO_OPINION : { decision: "allow", reason };
  }

  /** Stops watching (the server is stopping). */
  stop(): void {
    this.stopped = true;
    this.watch?.cancel();
    this.watch = null;
  }

  private startWatch(listedAt: number): void {
    const lost = () => {
      this.watch?.cancel();
      this.watch = null;
      this.stale = true;
    };
    this.watching = this.store
      .watch(RBAC_PREFIX, listedAt + 1, (response) => {
        if (response.kind === "changes" && response.changes.length > 0) this.stale = true;
        else if (response.kind === "canceled") lost();
      })
      .then(
        (handle) => {
          if (this.stopped) handle.cancel();
          else this.watch = handle;
        },
        () => lost(),
      )
      .finally(() => {
        this.watching = null;
      });
  }
}
