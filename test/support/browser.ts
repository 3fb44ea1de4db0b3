// Debian's Chromium driven by playwright-core, headless, for the dashboard tests and screenshots.
// Every request that does not go to 127.0.0.1 is refused and remembered (the page must need none).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** A page that may only talk to 127.0.0.1; `blocked` lists what it tried to reach elsewhere. */
export async function localPage(context: BrowserContext): Promise<{ page: Page; blocked: string[] }> {
  const page = await context.newPage();
  const blocked: string[] = [];
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:') return route.continue();
    blocked.push(url.href);
    return route.abort();
  });
  return { page, blocked };
}

/** Opens the dashboard, signing in on the form it redirects to. */
export async function signIn(page: Page, dashboardUrl: string, password: string): Promise<void> {
  await page.goto(dashboardUrl);
  await page.waitForSelector('#password');
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(dashboardUrl), page.click('button[type=submit]')]);
  await page.waitForSelector('#cards[aria-busy="false"]');
}
