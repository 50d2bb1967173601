/**
 * Admission that needs other objects than the one written (kube-apiserver's admission plugins
 * that read through informers), run on create after defaulting and validation:
 * - Priority: a new pod's `priorityClassName` becomes `spec.priority` and
 *   `spec.preemptionPolicy` (actors/api/priority-class.ts); an unknown class is 403 Forbidden;
 * - PriorityClass: at most one `globalDefault` class;
 * - ServiceAccount: the pod's ServiceAccount and its token volume (auth/service-account-admission.ts).
 * The classes are read from this server's watch cache when it is live, as kube's plugins read
 * their informers: no store round per pod create (a class made a split second ago on another
 * server may not be seen yet, as in Kubernetes).
 */
import { asObject, asString, type JsonObject } from "../api/json.ts";
import { generateNameSuffix } from "../api/object-meta.ts";
import {
  admitPodPriority,
  globalDefaultClass,
  globalDefaultConflict,
  SYSTEM_PRIORITY_CLASSES,
} from "../api/priority-class.ts";
import { type ResourceInfo, resourceByPlural } from "../api/resources.ts";
import { forbiddenStatus } from "../api/status.ts";
import { ApiError } from "../client/errors.ts";
import { admitServiceAccount } from "./auth/service-account-admission.ts";
import type { ObjectStore } from "./object-store.ts";
import { collectionPrefix, objectKey } from "./registry-keys.ts";

const PRIORITY_CLASSES = resourceByPlural("priorityclasses") as ResourceInfo;
const SERVICE_ACCOUNTS = resourceByPlural("serviceaccounts", "") as ResourceInfo;

export class Admission {
  constructor(
    private readonly store: ObjectStore,
    /** The ServiceAccount admission plugin is on (the server issues ServiceAccount tokens). */
    private readonly serviceAccounts = false,
  ) {}

  /** The object to store, or an ApiError saying why it may not be. */
  async admitCreate(r: ResourceInfo, obj: JsonObject): Promise<JsonObject> {
    if (r.kind === "Pod") return this.admitPod(obj);
    if (r.kind === "PriorityClass") {
      const conflict = globalDefaultConflict(obj, await this.priorityClasses());
      if (conflict !== null)
        throw new ApiError(
          forbiddenStatus(
            { group: r.group, resource: r.plural },
            asString(asObject(obj.metadata).name),
            conflict,
          ),
        );
    }
    return obj;
  }

  private async admitPod(created: JsonObject): Promise<JsonObject> {
    const pod = this.serviceAccounts ? await this.admitServiceAccount(created) : created;
    const className = asString(asObject(pod.spec).priorityClassName);
    const classes = await this.priorityClasses();
    const pc =
      className === ""
        ? globalDefaultClass(classes)
        : (classes.find((c) => asString(asObject(c.metadata).name) === className) ?? null);
    const admitted = admitPodPriority(pod, pc);
    if (admitted.ok) return admitted.pod;
    throw new ApiError(
      forbiddenStatus(
        { group: "", resource: "pods" },
        asString(asObject(pod.metadata).name),
        admitted.message,
      ),
    );
  }

  private async admitServiceAccount(pod: JsonObject): Promise<JsonObject> {
    const spec = asObject(pod.spec);
    const name = asString(spec.serviceAccountName) || asString(spec.serviceAccount) || "default";
    const namespace = asString(asObject(pod.metadata).namespace);
    const found = await this.store.read(objectKey(SERVICE_ACCOUNTS, namespace, name), true);
    return admitServiceAccount(pod, found?.object ?? null, generateNameSuffix(Math.random));
  }

  /** Every PriorityClass (the system ones even before the API server has written them). */
  private async priorityClasses(): Promise<JsonObject[]> {
    const page = await this.store.list(collectionPrefix(PRIORITY_CLASSES, null), {
      serializable: true,
      cached: true,
    });
    const names = new Set(page.items.map((c) => asString(asObject(c.metadata).name)));
    const missing = SYSTEM_PRIORITY_CLASSES.filter(
      (c) => !names.has(asString(asObject(c.metadata).name)),
    );
    return [...page.items, ...missing];
  }
}
