/**
 * A server's `--encryption-provider-config`: loaded at start and again on SIGHUP (as
 * kube-apiserver's automatic reload), then acknowledged in `<data-dir>/encryption-config.sha256`
 * (the hash of the text in force) so that `bosun secrets rotate-key` knows when every server
 * reads with the new keys before it makes one of them write with them.
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  EncryptionAtRest,
  parseEncryptionConfiguration,
} from "../../actors/apiserver/encryption-config.ts";
import { useEncryptionAtRest } from "../../actors/apiserver/storage-codec.ts";

export function encryptionAckFile(dataDir: string): string {
  return join(dataDir, "encryption-config.sha256");
}

export function configHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Loads `file` and puts it in force; throws (leaving the old one in force) if it is bad. */
export function applyEncryptionConfig(file: string, dataDir: string): void {
  const text = readFileSync(file, "utf8");
  useEncryptionAtRest(new EncryptionAtRest(parseEncryptionConfiguration(text)));
  const ack = encryptionAckFile(dataDir);
  writeFileSync(`${ack}.tmp`, `${configHash(text)}\n`);
  renameSync(`${ack}.tmp`, ack);
}
