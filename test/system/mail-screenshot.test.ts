// Renders the built-in mail in real Chromium, light and dark, at a 600 px mail width and a phone width;
// writes docs/images/email-light.png and email-dark.png and checks that each scheme really is light or dark.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decode } from 'jpeg-js';
import { chromium, type Frame } from 'playwright-core';
import { inlineImages, sampleMail } from '../support/mail-preview';
import { requireSystem } from '../support/system';

const ROOT = join(__dirname, '..', '..', '..');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const WIDTHS = [{ label: 'mail client, 640 px', width: 640 }, { label: 'phone, 375 px', width: 375 }];

function luminance(rgb: string): number {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? []).map(Number);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function page(html: string, scheme: 'light' | 'dark'): string {
  const frames = WIDTHS.map(
    (w, i) => `<figure><figcaption>${w.label}</figcaption><iframe id="f${i}" style="width:${w.width}px;height:400px" srcdoc="${html.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"></iframe></figure>`,
  ).join('');
  const bg = scheme === 'dark' ? '#000000' : '#d3d8df';
  const fg = scheme === 'dark' ? '#9aa5b1' : '#4b5563';
  return `<!doctype html><html><head><style>
    body { margin: 0; padding: 24px; background: ${bg}; font: 13px -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: ${fg}; }
    main { display: flex; gap: 32px; align-items: flex-start; }
    figure { margin: 0; } figcaption { margin: 0 0 8px 4px; }
    iframe { border: 0; display: block; box-shadow: 0 2px 16px rgba(0,0,0,.25); }
  </style></head><body><main>${frames}</main></body></html>`;
}

async function styles(frame: Frame) {
  return frame.evaluate(() => {
    const bg = (sel: string) => getComputedStyle(document.querySelector(sel) as Element).backgroundColor;
    const fact = document.querySelector('.dms3-facts .v') as Element;
    const rect = (document.querySelector('.dms3-facts') as Element).getBoundingClientRect();
    return { page: bg('div[role="article"]'), card: bg('.dms3-card'), factText: getComputedStyle(fact).color, facts: { x: rect.left, y: rect.top } };
  });
}

describe('the mail as a mail client shows it', () => {
  it('renders light and dark at 640 px and phone width, and the schemes really differ', async (t) => {
    if (!requireSystem(t, { commands: ['chromium'] })) return;
    const mail = await sampleMail();
    const html = inlineImages(mail);
    mkdirSync(join(ROOT, 'docs', 'images'), { recursive: true });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
    try {
      for (const scheme of ['light', 'dark'] as const) {
        const context = await browser.newContext({ viewport: { width: 1120, height: 900 }, deviceScaleFactor: 1 });
        const external: string[] = [];
        await context.route('**/*', (route) => {
          const url = route.request().url();
          if (url.startsWith('data:') || url === 'about:srcdoc' || url === 'about:blank') return route.continue();
          external.push(url);
          return route.abort();
        });
        const tab = await context.newPage();
        await tab.emulateMedia({ colorScheme: scheme });
        await tab.setContent(page(html, scheme), { waitUntil: 'load' });
        // Size each frame to its mail, as a client would.
        for (let i = 0; i < WIDTHS.length; i++) {
          const frame = (await (await tab.$(`#f${i}`))!.contentFrame())!;
          const height = await frame.evaluate(() => document.documentElement.scrollHeight);
          await tab.$eval(`#f${i}`, (el, h) => ((el as HTMLIFrameElement).style.height = `${h}px`), height);
        }
        await tab.waitForTimeout(100);
        await tab.screenshot({ path: join(ROOT, 'docs', 'images', `email-${scheme}.png`), fullPage: true });
        assert.deepEqual(external, [], 'the mail loads nothing from outside');

        // Computed styles of the 640 px rendering.
        const iframe = (await tab.$('#f0'))!;
        const frame = (await iframe.contentFrame())!;
        const s = await styles(frame);
        if (scheme === 'dark') {
          assert.ok(luminance(s.page) < 40, `dark page background ${s.page}`);
          assert.ok(luminance(s.card) < 40, `dark card ${s.card}`);
          assert.ok(luminance(s.factText) > 180, `light text on dark ${s.factText}`);
        } else {
          assert.ok(luminance(s.page) > 200, `light page background ${s.page}`);
          assert.ok(luminance(s.card) > 240, `light card ${s.card}`);
          assert.ok(luminance(s.factText) < 80, `dark text on light ${s.factText}`);
        }
        // And the pixels on screen: the page background beside the card, and the card beside the facts.
        const box = (await iframe.boundingBox())!;
        const shot = decode(await tab.screenshot({ type: 'jpeg', quality: 95 }), { useTArray: true });
        const px = (x: number, y: number) => {
          const i = (Math.round(y) * shot.width + Math.round(x)) * 4;
          return 0.2126 * shot.data[i] + 0.7152 * shot.data[i + 1] + 0.0722 * shot.data[i + 2];
        };
        const pagePx = px(box.x + 6, box.y + 6);
        const cardPx = px(box.x + s.facts.x - 12, box.y + s.facts.y + 4);
        if (scheme === 'dark') assert.ok(pagePx < 40 && cardPx < 50, `dark pixels: page ${pagePx}, card ${cardPx}`);
        else assert.ok(pagePx > 200 && cardPx > 240, `light pixels: page ${pagePx}, card ${cardPx}`);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  });
});
