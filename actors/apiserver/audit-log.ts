/**
 * The audit log backend (kube-apiserver's `--audit-log-path` with lumberjack rotation): one JSON
 * line per audit Event, appended to a file that is rotated by size. A rotated file is renamed
 * `<name>-<UTC timestamp><ext>` as lumberjack names it, and only the newest `maxBackups` are kept.
 *
 * Events written in one turn of the event loop are flushed together by one write (the batching
 * of apiserver's buffered backend, without its goroutine): one syscall per turn, not per request.
 * `-` as the path writes to stdout, as kube-apiserver does.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, extname, join } from "node:path";

export interface AuditLogLimits {
  /**
   * A file is rotated before a write would take it past this size. kube-apiserver's flag is in
   * megabytes (`--audit-log-maxsize`); lumberjack's default of 100 MB applies when it is 0.
   */
  maxFileBytes: number;
  /** Rotated files kept (`--audit-log-maxbackup`); 0 keeps them all, as lumberjack does. */
  maxBackups: number;
}

export const DEFAULT_AUDIT_LOG_LIMITS: Readonly<AuditLogLimits> = Object.freeze({
  maxFileBytes: 100 * 1024 * 1024,
  maxBackups: 0,
});

/** Where audit lines go: the rotating file, or anything else that takes lines (tests). */
export interface AuditSink {
  write(line: string): void;
  close(): void;
}

const STDOUT_FD = 1;

export class RotatingAuditLog implements AuditSink {
  private fd: number;
  private size: number;
  private pending: string[] = [];
  private flushQueued = false;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly limits: AuditLogLimits,
    /** Wall-clock milliseconds from the node's injected clock, for the backups' names. */
    private readonly wallMs: () => number,
  ) {
    if (path === "-") {
      this.fd = STDOUT_FD;
      this.size = 0;
    } else {
      mkdirSync(dirname(path), { recursive: true });
      this.fd = openSync(path, "a", 0o600);
      this.size = fstatSync(this.fd).size;
    }
  }

  write(line: string): void {
    if (this.closed) return;
    this.pending.push(`${line}\n`);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  /** Writes what is pending now (also called by `close`). */
  flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join("");
    this.pending = [];
    const bytes = Buffer.from(text);
    if (
      this.fd !== STDOUT_FD &&
      this.size > 0 &&
      this.size + bytes.length > this.limits.maxFileBytes
    )
      this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.fd !== STDOUT_FD) closeSync(this.fd);
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, this.backupName());
    this.fd = openSync(this.path, "a", 0o600);
    this.size = 0;
    this.pruneBackups();
  }

  /** lumberjack's `name-2006-01-02T15-04-05.000.ext`, with a counter if that name is taken. */
  private backupName(): string {
    const ext = extname(this.path);
    const stem = join(dirname(this.path), basename(this.path, ext));
    const stamp = new Date(this.wallMs()).toISOString().replace(/:/g, "-").replace(/Z$/, "");
    const taken = new Set(readdirSync(dirname(this.path)));
    let name = `${stem}-${stamp}${ext}`;
    for (let n = 1; taken.has(basename(name)); n++) name = `${stem}-${stamp}.${n}${ext}`;
    return name;
  }

  /** The rotated files of this log, oldest first (their names sort by time). */
  backups(): string[] {
    const ext = extname(this.path);
    const prefix = `${basename(this.path, ext)}-`;
    return readdirSync(dirname(this.path))
      .filter((f) => f.startsWith(prefix) && f.endsWith(ext) && f !== basename(this.path))
      .sort()
      .map((f) => join(dirname(this.path), f));
  }

  private pruneBackups(): void {
    if (this.limits.maxBackups === 0) return;
    const backups = this.backups();
    for (const old of backups.slice(0, Math.max(0, backups.length - this.limits.maxBackups)))
      rmSync(old, { force: true });
  }
}
