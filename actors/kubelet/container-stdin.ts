/**
 * The stdin of a container whose spec asks for one (`stdin: true`; `kubectl run -it`,
 * `kubectl attach -i`): a FIFO in the pod's directory, which the container reads, and which
 * the kubelet keeps open for writing, so the container waits for input instead of reading an
 * end. `kubectl attach` writes into it; with `stdinOnce` the first attach's end closes it (the
 * container then reads its end, as Kubernetes' does). With `tty: true` the container runs on a
 * pty (pty/pty-relay.py) and a second FIFO carries the terminal's size to the relay.
 *
 * The writer lives in the kubelet: a kubelet that restarts closes it, and the container reads
 * an end (its stdin is not re-attached after a restart).
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, writeSync } from "node:fs";

export class ContainerStdin {
  private writer: number | null;
  private control: number | null;

  private constructor(
    /** The container's fd 0 (closed here once the container has it). */
    readonly childStdin: number,
    /** The relay's fd 3 with a tty, else null. */
    readonly childControl: number | null,
    writer: number,
    control: number | null,
    readonly once: boolean,
  ) {
    this.writer = writer;
    this.control = control;
  }

  /** Makes the FIFOs at `path` (and `path`.ctl with a tty) and opens both ends. */
  static create(path: string, options: { tty: boolean; once: boolean }): ContainerStdin {
    const open = (fifo: string) => {
      execFileSync("mkfifo", ["-m", "600", fifo]);
      // read-write first, so the read-only open for the container does not wait for a writer
      // non-blocking: a container that does not read never blocks the kubelet (input it does
      // not take while the pipe is full is dropped)
      const writer = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
      const reader = openSync(fifo, constants.O_RDONLY);
      return { writer, reader };
    };
    const stdin = open(path);
    const control = options.tty ? open(`${path}.ctl`) : null;
    return new ContainerStdin(
      stdin.reader,
      control?.reader ?? null,
      stdin.writer,
      control?.writer ?? null,
      options.once,
    );
  }

  /** Closes the container's ends here (after the spawn handed them over). */
  releaseChildEnds(): void {
    closeSync(this.childStdin);
    if (this.childControl !== null) closeSync(this.childControl);
  }

  get open(): boolean {
    return this.writer !== null;
  }

  write(data: Uint8Array): void {
    if (this.writer === null) return;
    try {
      writeSync(this.writer, data);
    } catch {
      // EPIPE: nobody reads any more (the container is gone)
    }
  }

  resize(width: number, height: number): void {
    if (this.control === null) return;
    try {
      writeSync(this.control, `${width} ${height}\n`);
    } catch {
      // the relay is gone
    }
  }

  /** The end of the container's stdin (stdinOnce, or the container's end). */
  close(): void {
    for (const fd of [this.writer, this.control]) if (fd !== null) closeSync(fd);
    this.writer = null;
    this.control = null;
  }
}
