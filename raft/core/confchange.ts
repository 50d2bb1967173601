/**
 * Applying membership changes to a configuration (etcd-io/raft's confchange/): simple changes
 * (at most one voter added or removed, Raft thesis §4.1) and joint consensus (Raft §6: enter a
 * joint config C_old,new, then leave it for C_new). Functions are pure: they return a new config
 * and progress map, or throw ConfChangeError, leaving the inputs untouched.
 */
import type { ConfChange, ConfChangeSingle, ConfState, NodeId } from "./messages.ts";
import { Progress } from "./progress.ts";
import {
  cloneTrackerConfig,
  emptyTrackerConfig,
  isJoint,
  type ProgressMap,
  type TrackerConfig,
} from "./tracker.ts";

export class ConfChangeError extends Error {
  constructor(detail: string) {
    super(`raft conf change: ${detail}`);
    this.name = "ConfChangeError";
  }
}

export interface ChangeResult {
  config: TrackerConfig;
  progress: ProgressMap;
}

/** The context a change needs: the current config and progress, and where new peers start. */
export interface Changer {
  config: TrackerConfig;
  progress: ProgressMap;
  maxInflight: number;
  lastIndex: number;
}

/** An empty change list means "leave the joint configuration". */
export function isLeaveJoint(cc: ConfChange): boolean {
  return cc.changes.length === 0;
}

/**
 * Whether this change enters a joint configuration, and if so whether it leaves it on its own:
 * "auto" with one change is simple; more changes, or "implicit"/"explicit", use joint consensus.
 */
export function entersJoint(cc: ConfChange): { joint: boolean; autoLeave: boolean } {
  if (cc.transition !== "auto" || cc.changes.length > 1) {
    return { joint: true, autoLeave: cc.transition !== "explicit" };
  }
  return { joint: false, autoLeave: false };
}

/** Applies a committed ConfChange in whichever of the three ways it asks for. */
export function applyChange(ch: Changer, cc: ConfChange): ChangeResult {
  if (isLeaveJoint(cc)) return leaveJoint(ch);
  const { joint, autoLeave } = entersJoint(cc);
  if (joint) return enterJoint(ch, autoLeave, cc.changes);
  return simple(ch, cc.changes);
}

/** Raft §6: C_old becomes the outgoing half; the changes build the incoming half. */
export function enterJoint(
  ch: Changer,
  autoLeave: boolean,
  changes: ConfChangeSingle[],
): ChangeResult {
  const { config, progress } = checkAndCopy(ch);
  if (isJoint(config)) throw new ConfChangeError("config is already joint");
  if (config.voters.size === 0) throw new ConfChangeError("can't make a zero-voter config joint");
  config.votersOutgoing = new Set(config.voters);
  apply(ch, config, progress, changes);
  config.autoLeave = autoLeave;
  return checkAndReturn(config, progress);
}

/** Raft §6: drop the outgoing half; outgoing voters staged as learners become learners. */
export function leaveJoint(ch: Changer): ChangeResult {
  const { config, progress } = checkAndCopy(ch);
  if (!isJoint(config)) throw new ConfChangeError("can't leave a non-joint config");
  for (const id of config.learnersNext) {
    config.learners.add(id);
    progress.get(id)!.isLearner = true;
  }
  config.learnersNext.clear();
  for (const id of config.votersOutgoing) {
    if (!config.voters.has(id) && !config.learners.has(id)) progress.delete(id);
  }
  config.votersOutgoing.clear();
  config.autoLeave = false;
  return checkAndReturn(config, progress);
}

/** Changes at most one voter, so any majority of the old config overlaps any of the new one. */
export function simple(ch: Changer, changes: ConfChangeSingle[]): ChangeResult {
  const { config, progress } = checkAndCopy(ch);
  if (isJoint(config))
    throw new ConfChangeError("can't apply simple config change in joint config");
  const before = new Set(config.voters);
  apply(ch, config, progress, changes);
  let diff = 0;
  for (const id of before) if (!config.voters.has(id)) diff++;
  for (const id of config.voters) if (!before.has(id)) diff++;
  if (diff > 1)
    throw new ConfChangeError("more than one voter changed without entering joint config");
  return checkAndReturn(config, progress);
}

/** Rebuilds the configuration recorded in a ConfState (from storage or a snapshot). */
export function restore(maxInflight: number, lastIndex: number, cs: ConfState): ChangeResult {
  const config = emptyTrackerConfig();
  const progress: ProgressMap = new Map();
  const init = (id: NodeId, isLearner: boolean) => {
    if (!progress.has(id)) progress.set(id, newProgress(maxInflight, lastIndex, isLearner));
  };
  for (const id of cs.voters) {
    config.voters.add(id);
    init(id, false);
  }
  for (const id of cs.votersOutgoing) {
    config.votersOutgoing.add(id);
    init(id, false);
  }
  for (const id of cs.learners) {
    config.learners.add(id);
    init(id, true);
  }
  for (const id of cs.learnersNext) config.learnersNext.add(id);
  config.autoLeave = cs.autoLeave;
  return checkAndReturn(config, progress);
}

function apply(
  ch: Changer,
  config: TrackerConfig,
  progress: ProgressMap,
  changes: ConfChangeSingle[],
): void {
  for (const cc of changes) {
    if (cc.nodeId === "") continue;
    switch (cc.type) {
      case "addVoter":
        makeVoter(ch, config, progress, cc.nodeId);
        break;
      case "addLearner":
        makeLearner(ch, config, progress, cc.nodeId);
        break;
      case "removeNode":
        remove(config, progress, cc.nodeId);
        break;
    }
  }
  if (config.voters.size === 0) throw new ConfChangeError("removed all voters");
}

function makeVoter(ch: Changer, config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
  const pr = progress.get(id);
  if (!pr) {
    progress.set(id, newProgress(ch.maxInflight, ch.lastIndex, false));
    config.voters.add(id);
    return;
  }
  pr.isLearner = false;
  config.learners.delete(id);
  config.learnersNext.delete(id);
  config.voters.add(id);
}

/**
 * A voter of the outgoing config that is demoted cannot become a learner until the joint config
 * is left (it must keep voting for C_old): it is staged in learnersNext.
 */
function makeLearner(ch: Changer, config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
  const pr = progress.get(id);
  if (!pr) {
    progress.set(id, newProgress(ch.maxInflight, ch.lastIndex, true));
    config.learners.add(id);
    return;
  }
  if (pr.isLearner) return;
  remove(config, progress, id);
  progress.set(id, pr);
  if (config.votersOutgoing.has(id)) {
    config.learnersNext.add(id);
  } else {
    pr.isLearner = true;
    config.learners.add(id);
  }
}

function remove(config: TrackerConfig, progress: ProgressMap, id: NodeId): void {
  if (!progress.has(id)) return;
  config.voters.delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  // An outgoing voter keeps its progress: it still votes until the joint config is left.
  if (!config.votersOutgoing.has(id)) progress.delete(id);
}

function newProgress(maxInflight: number, lastIndex: number, isLearner: boolean): Progress {
  // New peers start probing at the leader's last index; recentActive so check-quorum does
  // not count them as down before they had a chance to answer.
  return new Progress({
    match: 0,
    next: Math.max(lastIndex, 1),
    maxInflight,
    isLearner,
    recentActive: true,
  });
}

function checkAndCopy(ch: Changer): ChangeResult {
  const config = cloneTrackerConfig(ch.config);
  const progress: ProgressMap = new Map();
  for (const [id, pr] of ch.progress) progress.set(id, pr.clone());
  checkInvariants(config, progress);
  return { config, progress };
}

function checkAndReturn(config: TrackerConfig, progress: ProgressMap): ChangeResult {
  checkInvariants(config, progress);
  return { config, progress };
}

function checkInvariants(config: TrackerConfig, progress: ProgressMap): void {
  for (const ids of [config.voters, config.votersOutgoing, config.learners, config.learnersNext]) {
    for (const id of ids) if (!progress.has(id)) throw new ConfChangeError(`no progress for ${id}`);
  }
  for (const id of config.learnersNext) {
    if (!config.votersOutgoing.has(id))
      throw new ConfChangeError(`${id} is in learnersNext, but not votersOutgoing`);
    if (progress.get(id)!.isLearner)
      throw new ConfChangeError(`${id} is in learnersNext, but is already marked as learner`);
  }
  for (const id of config.learners) {
    if (config.votersOutgoing.has(id))
      throw new ConfChangeError(`${id} is in learners and votersOutgoing`);
    if (config.voters.has(id)) throw new ConfChangeError(`${id} is in learners and voters`);
    if (!progress.get(id)!.isLearner)
      throw new ConfChangeError(`${id} is in learners, but is not marked as learner`);
  }
  if (!isJoint(config)) {
    if (config.learnersNext.size > 0)
      throw new ConfChangeError("learnersNext must be empty when not joint");
    if (config.autoLeave) throw new ConfChangeError("autoLeave must be false when not joint");
  }
}
