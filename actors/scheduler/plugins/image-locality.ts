/**
 * ImageLocality (kube-scheduler `plugins/imagelocality`): prefers nodes that already have the
 * pod's images (`node.status.images`), by their size, discounted by how few nodes have them
 * (so that one node does not draw every pod of a popular image): per image
 * `sizeBytes × nodesWithImage / nodes`, summed, then scaled between 23 MB (0) and
 * 1,000 MB per container (100), as kube's thresholds.
 */

import { normalizeImageName } from "../../api/image-name.ts";
import { asArray, asObject, asString } from "../../api/json.ts";
import { MAX_NODE_SCORE, type ScorePlugin } from "../framework.ts";

const MB = 1024 * 1024;
export const MIN_IMAGE_THRESHOLD_BYTES = 23 * MB;
export const MAX_CONTAINER_THRESHOLD_BYTES = 1000 * MB;

export function imageLocalityScore(sumBytes: number, containers: number): number {
  const max = MAX_CONTAINER_THRESHOLD_BYTES * Math.max(1, containers);
  const clamped = Math.min(Math.max(sumBytes, MIN_IMAGE_THRESHOLD_BYTES), max);
  return Math.floor(
    (MAX_NODE_SCORE * (clamped - MIN_IMAGE_THRESHOLD_BYTES)) / (max - MIN_IMAGE_THRESHOLD_BYTES),
  );
}

export const imageLocalityScorePlugin: ScorePlugin = {
  name: "ImageLocality",
  prepareScore(pod, cache) {
    const images = asArray(asObject(pod.pod.spec).containers).map((c) =>
      normalizeImageName(asString(asObject(c).image)),
    );
    if (images.length === 0) return null;
    const nodes = cache.nodeList();
    const holders = new Map<string, number>();
    for (const node of nodes) {
      if (node.images.size === 0) continue;
      for (const image of images)
        if (node.images.has(image)) holders.set(image, (holders.get(image) ?? 0) + 1);
    }
    if (holders.size === 0) return null; // no node has any: every node alike
    return {
      score: (node) => {
        let sum = 0;
        for (const image of images) {
          const size = node.images.get(image);
          if (size !== undefined) sum += (size * (holders.get(image) ?? 0)) / nodes.length;
        }
        return imageLocalityScore(sum, images.length);
      },
    };
  },
};
