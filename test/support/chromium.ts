/**
 * A real headless Chromium for the browser inspector's tests and benchmark: Debian's
 * `/usr/bin/chromium` (or `BOSUN_CHROMIUM`) driven by playwright-core — no browser download.
 * `--no-sandbox` because CI runs as root. Screenshots go to an artifacts dir that outlives the
 * test (under the temp dir, and also `BOSUN_ARTIFACTS_DIR` when set).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM_PATH = process.env.BOSUN_CHROMIUM ?? "/usr/bin/chromium";

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}

/** Where a run's screenshots go: a fresh temp dir, mirrored to BOSUN_ARTIFACTS_DIR if set. */
export class Artifacts {
  readonly dir = mkdtempSync(join(tmpdir(), "bosun-inspector-artifacts-"));

  async screenshot(page: Page, name: string): Promise<string> {
    const png = await page.screenshot({ fullPage: false });
    const path = join(this.dir, `${name}.png`);
    writeFileSync(path, png);
    const extra = process.env.BOSUN_ARTIFACTS_DIR;
    if (extra) {
      mkdirSync(extra, { recursive: true });
      writeFileSync(join(extra, `${name}.png`), png);
    }
    return path;
  }
}
