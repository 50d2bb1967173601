/**
 * The kubelet actor's protocol (DESIGN §7), as the API server speaks it to the kubelet of a pod's
 * node over the mesh:
 *
 *   kubelet.logs KubeletLogsRequest          → KubeletLogsReply (text, or why not)
 *   kubelet.logs.unfollow {follower}         (tell: a followed log's stream ended)
 *   kubelet.followers {}                     → {count, limit}
 *   kubelet.pods {}                          → [{namespace, name, uid, state}]
 */

export const KUBELET_ACTOR = "kubelet";

/** One read of a container's log (a pods/log request, or one poll of a followed one). */
export interface KubeletLogsRequest {
  namespace: string;
  pod: string;
  container?: string;
  previous?: boolean;
  /** A follower's next poll: the attempt its first read got, from this byte of it. */
  attempt?: number;
  sinceByte?: number;
  /** Kubernetes' PodLogOptions: the last lines of what is there (first read only). */
  tailLines?: number;
  /** Kubernetes' PodLogOptions: at most this many bytes (what is left of the stream's). */
  limitBytes?: number;
  /** The followed stream this read belongs to (counted against maxLogFollowers). */
  follower?: string;
}

/** Why a log read is refused, as the API server answers it (HTTP status reasons). */
export type LogRefusal = "BadRequest" | "NotFound" | "TooManyRequests";

export type KubeletLogsReply =
  | {
      text: string;
      /** Where the next read of this attempt starts. */
      nextByte: number;
      attempt: number;
      /** A follower polls again: the attempt still runs, or bytes are left to read. */
      more: boolean;
    }
  | { refused: LogRefusal; message: string };
