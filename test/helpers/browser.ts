/**
 * Headless Chromium from Debian (`/usr/bin/chromium`) driven by playwright-core, and a real Wharf listening on
 * loopback for it. Screenshots go to `test-results/screenshots/` for review.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from './process.js';
import { startApp, type TestApp } from './app.js';

export const CHROMIUM = process.env.WHARF_CHROMIUM ?? '/usr/bin/chromium';
/** Browser tests need Debian's Chromium; without it they are reported as skipped, with the reason. */
export const BROWSER_SKIP: string | false = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
export const SCREENSHOTS = path.join(REPO, 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ServedApp extends TestApp {
  baseUrl: string;
}

/** A Wharf on 127.0.0.1 with a free port; its external URL is the address the browser uses. */
export async function serveApp(): Promise<ServedApp> {
  // The external URL must match the listening port, which is known only after listening: probe a free port first.
  const probe = await import('node:net').then(
    (net) =>
      new Promise<number>((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
        s.on('error', reject);
      }),
  );
  const baseUrl = `http://127.0.0.1:${probe}`;
  const t = await startApp('sqlite', { env: { WHARF_EXTERNAL_URL: baseUrl } });
  await t.app.listen({ host: '127.0.0.1', port: probe });
  return { ...t, baseUrl };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
