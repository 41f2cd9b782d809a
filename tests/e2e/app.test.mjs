// End-to-end tests of the browser app in headless Chromium (Debian's, via playwright-core):
// the built site is served from loopback, a photo is dropped through a DataTransfer drop event,
// and the page's test hook (window.cnnlensTest) is compared with the native CLI on the same crop.
// Environment: CNNLENS_SITE (default build/wasm/site), CNNLENS_CLI (default
// build/native-release/cli/cnnlens), CHROMIUM (default /usr/bin/chromium). Screenshots go to
// build/e2e-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from './serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const site = path.resolve(root, process.env.CNNLENS_SITE || 'build/wasm/site');
const cli = path.resolve(root, process.env.CNNLENS_CLI || 'build/native-release/cli/cnnlens');
const artifacts = path.join(root, 'build/e2e-artifacts');
const model = path.join(root, 'models/fer2013-mini-xception');

let server, browser, page, origin;
const outside = [];     // requests that left the local server
const pageErrors = [];

// Reads a little-endian float32 .npy (as core/image/render.cpp writes it).
function readNpy(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('latin1', 1, 6), 'NUMPY', `${file} is not a .npy file`);
  const headerLen = b.readUInt16LE(8);
  const header = b.toString('latin1', 10, 10 + headerLen);
  assert.match(header, /'descr': '<f4'/);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = b.subarray(10 + headerLen);
  return { shape, values: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) };
}

async function dropFile(bytes, name, type) {
  await page.evaluate(([data, name, type]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], name, { type }));
    const c = document.getElementById('canvas');
    c.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    c.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [Array.from(bytes), name, type]);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
}

async function screenshot(name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}

// Runs `method` in the page and with the native CLI on the page's face crop; compares the maps.
async function compareWithCli(method, rtol) {
  const map = await page.evaluate(async (m) => {
    const r = await window.cnnlensTest.explain(m);
    return { ...r, values: Array.from(r.values) };
  }, method);
  assert.equal(map.method, method);
  const crop = path.join(artifacts, 'face_crop.png');
  const out = path.join(artifacts, 'cli');
  execFileSync(cli, ['explain', '--model', model, '--method', method, '--out', out, crop], { stdio: 'pipe' });
  const ref = readNpy(path.join(out, `face_crop_${method}.npy`));
  assert.deepEqual(ref.shape.slice(-2), [map.height, map.width]);
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < ref.values.length; ++i) {
    maxRef = Math.max(maxRef, Math.abs(ref.values[i]));
    maxDiff = Math.max(maxDiff, Math.abs(ref.values[i] - map.values[i]));
  }
  assert.ok(maxRef > 0, `${method}: the CLI map is all zeros`);
  assert.ok(maxDiff <= rtol * maxRef, `${method}: max |browser - CLI| = ${maxDiff} > ${rtol} * ${maxRef}`);
  return map;
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  server = await serve(site);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  // Service workers are blocked so every request of the page is visible to the context.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1,
    serviceWorkers: 'block' });
  context.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) outside.push(u);
  });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('headless Chromium has WebGL2', async () => {
  await page.goto('about:blank');
  const renderer = await page.evaluate(() => {
    const gl = document.createElement('canvas').getContext('webgl2');
    if (!gl) return null;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    return ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  });
  assert.ok(renderer, 'getContext("webgl2") returned null: is SwiftShader allowed (--enable-unsafe-swiftshader)?');
});

test('the page loads both models and becomes ready', async () => {
  const t0 = Date.now();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.cnnlensTest && window.cnnlensTest.ready.then(() => true), null, { timeout: 60000 });
  console.log(`# page ready in ${Date.now() - t0} ms`);
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
  await screenshot('01-ready');
});

test('a dropped photo: one face, classified happy', async () => {
  await dropFile(fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'astronaut.jpg', 'image/jpeg');
  const faces = await page.evaluate(() => window.cnnlensTest.faces());
  assert.equal(faces.length, 1, JSON.stringify(faces));
  const [f] = faces;
  assert.equal(f.top, 'happy');
  assert.equal(f.probs.length, 7);
  assert.ok(Math.abs(f.probs.reduce((a, b) => a + b, 0) - 1) < 1e-4);
  const [x, y, w, h] = f.box;
  assert.ok(x > 0 && y > 0 && w > 20 && h > 20 && x + w <= 512 && y + h <= 512, `box ${f.box}`);
  const png = await page.evaluate(() => Array.from(window.cnnlensTest.faceCropPng()));
  fs.writeFileSync(path.join(artifacts, 'face_crop.png'), Buffer.from(png));
  await screenshot('02-face');
});

test('saliency equals the native CLI on the same crop', async () => {
  assert.ok(fs.existsSync(cli), `native CLI ${cli} not built (cmake --build --preset native-release)`);
  const map = await compareWithCli('saliency', 1e-3);
  assert.equal(map.width * map.height, map.values.length);
  await screenshot('03-saliency');
});

// The remaining methods with their defaults (seed 1 on both sides). Sampling methods get a
// looser tolerance: their sums of many float passes differ between kernel sets.
for (const [method, rtol] of [['gradient_x_input', 1e-3], ['guided', 1e-3], ['gradcam', 1e-3],
  ['gradcampp', 1e-3], ['guided_gradcam', 1e-3], ['ig', 1e-3], ['smoothgrad', 5e-3],
  ['occlusion', 1e-3], ['lime', 1e-2]]) {
  test(`${method} equals the native CLI`, async () => {
    const t0 = Date.now();
    await compareWithCli(method, rtol);
    console.log(`# ${method}: ${Date.now() - t0} ms (browser + CLI)`);
    await screenshot(`04-${method}`);
  });
}

test('a corrupt file shows an error and the app keeps working', async () => {
  await dropFile(Buffer.from('this is not an image at all'), 'broken.jpg', 'image/jpeg');
  const error = await page.evaluate(() => window.cnnlensTest.error());
  assert.match(error, /broken\.jpg/);
  await screenshot('05-error');
  const faces = await page.evaluate(() => window.cnnlensTest.faces());
  assert.equal(faces.length, 1, 'the previous photo stays');
  await compareWithCli('saliency', 1e-3);
});

test('a pasted image (Ctrl+V) opens like a dropped one', async () => {
  const v0 = await page.evaluate(() => window.cnnlensTest.photoVersion());
  await page.evaluate(async () => {
    const blob = await (await fetch('examples/astronaut.jpg')).blob();
    const dt = new DataTransfer();
    dt.items.add(new File([blob], 'pasted.jpg', { type: 'image/jpeg' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction((v) => window.cnnlensTest.photoVersion() > v, v0);
  const faces = await page.evaluate(() => window.cnnlensTest.faces());
  assert.equal(faces.length, 1);
  assert.equal(faces[0].top, 'happy');
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '', 'a successful open clears the error');
});

test('no request leaves the local server and the page logged no errors', () => {
  assert.deepEqual(outside, []);
  assert.deepEqual(pageErrors, []);
});
