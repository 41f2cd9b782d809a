// What every browser test file shares: paths, launching Debian's Chromium headless, waiting for
// the app, and dropping files onto the canvas as a user dragging them onto the page.
// Environment: CNNLENS_SITE (default build/wasm/site), CNNLENS_CLI (default
// build/native-release/cli/cnnlens), CHROMIUM (default /usr/bin/chromium).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const site = path.resolve(root, process.env.CNNLENS_SITE || 'build/wasm/site');
export const cli = path.resolve(root, process.env.CNNLENS_CLI || 'build/native-release/cli/cnnlens');
export const artifacts = path.join(root, 'build/e2e-artifacts');

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
}

// Resolves when the page's app can take a photo (window.cnnlensTest.ready).
export function waitReady(page, timeout = 60000) {
  return page.waitForFunction(() => window.cnnlensTest && window.cnnlensTest.ready.then(() => true), null, { timeout });
}

// Drops [bytes, name, type] files together (one DataTransfer) onto the canvas; does not wait.
export function dropOnCanvas(page, files) {
  return page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const [data, name, type] of list) dt.items.add(new File([new Uint8Array(data)], name, { type }));
    const c = document.getElementById('canvas');
    c.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    c.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files.map(([bytes, name, type]) => [Array.from(bytes), name, type || 'application/octet-stream']));
}
