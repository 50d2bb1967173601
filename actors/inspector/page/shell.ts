/**
 * The frame around both views: the top bar (name, where you are, the live stream's state, the
 * node serving the page, sign out) and the area a view draws in.
 */
import type { StreamState } from "./api.ts";
import { h, present, setText } from "./element.ts";

export class Shell {
  readonly main: HTMLElement;
  private readonly crumbs: HTMLElement;
  private readonly live: HTMLElement;

  constructor(
    root: HTMLElement,
    readonly servedBy: string,
  ) {
    this.crumbs = h("nav", { class: "crumbs", "aria-label": "location" });
    this.live = h("span", { class: "live connecting", title: "live stream" }, "connecting");
    const signOut = h(
      "form",
      { method: "post", action: "/ui/logout", class: "sign-out" },
      h("button", { type: "submit", class: "ghost" }, "Sign out"),
    );
    const bar = h(
      "header",
      { class: "top" },
      h("a", { class: "brand", href: "#/" }, h("span", { class: "mark" }, "⎈"), " bosun inspector"),
      this.crumbs,
      h("div", { class: "spacer" }),
      this.live,
      h("span", { class: "served-by", title: "the node serving this page" }, `via ${servedBy}`),
      signOut,
    );
    this.main = h("main", { class: "view" });
    root.replaceChildren(bar, this.main);
  }

  setCrumbs(parts: { text: string; href?: string }[]): void {
    this.crumbs.replaceChildren(
      ...present(
        ...parts.flatMap((p, i) => [
          i > 0 ? h("span", { class: "sep" }, "/") : null,
          p.href ? h("a", { href: p.href }, p.text) : h("span", { class: "here" }, p.text),
        ]),
      ),
    );
  }

  setStream(state: StreamState | "paused"): void {
    this.live.className = `live ${state}`;
    setText(this.live, state);
  }
}
