// What every browser test file shares: paths, launching Debian's Chromium headless, waiting for
// the app, dropping files onto the canvas as a user dragging them onto the page, and reading the
// .npy maps the CLI writes.
// Environment: CNNLENS_SITE (default build/wasm/site), CNNLENS_CLI (default
// build/native-release/cli/cnnlens), CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const site = path.resolve(root, process.env.CNNLENS_SITE || 'build/wasm/site');
export const cli = path.resolve(root, process.env.CNNLENS_CLI || 'build/native-release/cli/cnnlens');
export const artifacts = path.join(root, 'build/e2e-artifacts');

// `extraArgs`: more Chromium switches (live_camera.mjs adds a fake camera).
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', ...extraArgs],
  });
}

// Resolves when the page's app can take a photo (window.cnnlensTest.ready).
export function waitReady(page, timeout = 60000) {
  return page.waitForFunction(() => window.cnnlensTest && window.cnnlensTest.ready.then(() => true), null, { timeout });
}

// Drops [bytes, name, type] files together (one DataTransfer) onto the canvas; does not wait.
// The bytes cross to the page as base64 (a 48-megapixel JPEG as an array of numbers took seconds).
export function dropOnCanvas(page, files) {
  return page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const [b64, name, type] of list) {
      const bin = atob(b64), data = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; ++i) data[i] = bin.charCodeAt(i);
      dt.items.add(new File([data], name, { type }));
    }
    const c = document.getElementById('canvas');
    c.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    c.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files.map(([bytes, name, type]) => [Buffer.from(bytes).toString('base64'), name, type || 'application/octet-stream']));
}

// A 1280x800 page (a canvas exactly the screen size makes Emscripten's GLFW request fullscreen)
// with service workers blocked, so every request of the page is visible to the context.
// `outside` collects requests to any origin but `origin`, `pageErrors` the page's errors.
export async function openPage(browser, origin) {
  const outside = [], pageErrors = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1,
    serviceWorkers: 'block' });
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) outside.push(u);
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  return { page, outside, pageErrors };
}

// Reads a little-endian float32 .npy (as core/image/render.cpp writes it).
export function readNpy(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 1, 6), 'NUMPY', `${file} is not a .npy file`);
  const headerLen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  assert.match(header, /'descr': '<f4'/);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = b.subarray(10 + headerLen);
  return { shape, values: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) };
}
