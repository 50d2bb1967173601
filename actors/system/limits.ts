/** Limits of one node's actor system; every one bounds something that could grow. */
export interface ActorSystemLimits {
  /** Asks waiting for a reply at once; past this, ask() rejects at once instead of queueing. */
  maxInflightAsks: number;
  /** Default ask timeout; a reply later than this is dropped as stale. */
  defaultAskTimeoutMs: number;
  /** Inspection records kept per node (oldest fall off). */
  inspectionRingRecords: number;
  /** Actors one node may host; a runaway spawn loop fails loudly instead of eating memory. */
  maxActors: number;
  /**
   * Child actors (`spawnChild`: pods under kubelets, reconcile loops under the controller
   * manager) one node may host, apart from `maxActors`: room for the largest hollow-nodes
   * process (1,536 kubelets × 110 pods), so that only a runaway loop hits it.
   */
  maxChildActors: number;
  /** Live inspection followers per node. */
  maxFollowers: number;
  /**
   * Records one follower is sent in one tell (the records of one turn of the event loop); past
   * this, the rest of that turn's records are not sent to it (the ring still holds them). Keeps
   * a follower's cost per turn bounded however busy the node is.
   */
  maxFollowBatchRecords: number;
  /**
   * How long after the last read of the inspection ring events still enter it with their
   * payload preview. Nobody reading, records keep only the cheap fields (DESIGN §3): the preview
   * walk is most of what a record costs, and an idle server takes 1,000–2,500 records a second.
   */
  inspectionReaderGraceMs: number;
}

export const DEFAULT_ACTOR_SYSTEM_LIMITS: ActorSystemLimits = {
  maxInflightAsks: 10_000,
  defaultAskTimeoutMs: 5_000,
  inspectionRingRecords: 10_000,
  maxActors: 4_096,
  maxChildActors: 180_000,
  maxFollowers: 16,
  maxFollowBatchRecords: 1_000,
  inspectionReaderGraceMs: 60_000,
};
