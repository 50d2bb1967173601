/**
 * One listening socket that should be open only while wanted (kube-proxy's "no endpoints, no
 * listener": a client is refused at once rather than left hanging). `set(true)` binds it,
 * `set(false)` stops listening at once (connections already accepted are not touched); a bind
 * that fails (address in use, a standby's predecessor not yet gone) is retried after `retryMs`
 * on the injected clock while it is still wanted (the error is reported once, not per retry).
 */
import type { Clock, TimerId } from "../system/clock.ts";

/** What a slot opens and closes: a TCP server, a UDP socket, an HTTP health check server. */
export interface Bindable {
  /** Binds and listens; rejects when the address cannot be bound. */
  open(): Promise<void>;
  /** Stops listening now (the fd is closed synchronously by libuv, so a rebind can follow). */
  close(): void;
}

export class ListenerSlot {
  private state: "closed" | "opening" | "open" = "closed";
  private wanted = false;
  private retryTimer: TimerId | null = null;
  /** The last bind error, until a bind succeeds (for status and tests). */
  lastError: string | null = null;

  constructor(
    private readonly target: Bindable,
    private readonly clock: Clock,
    private readonly retryMs: number,
    private readonly onBindError: (error: Error) => void,
  ) {}

  set(wanted: boolean): void {
    this.wanted = wanted;
    this.converge();
  }

  isOpen(): boolean {
    return this.state === "open";
  }

  private converge(): void {
    if (!this.wanted && this.retryTimer !== null) {
      this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.wanted && this.state === "closed" && this.retryTimer === null) {
      this.state = "opening";
      this.target.open().then(
        () => {
          this.state = "open";
          this.lastError = null;
          this.converge();
        },
        (error: Error) => {
          this.state = "closed";
          // reported once per streak: an address held elsewhere fails every retry the same way
          if (this.lastError !== error.message) this.onBindError(error);
          this.lastError = error.message;
          if (!this.wanted) return;
          this.retryTimer = this.clock.setTimeout(() => {
            this.retryTimer = null;
            this.converge();
          }, this.retryMs);
        },
      );
    } else if (!this.wanted && this.state === "open") {
      this.state = "closed";
      this.target.close();
    }
  }
}
