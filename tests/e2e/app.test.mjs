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
import { artifacts, cli, dropOnCanvas, launchChromium, openPage, readNpy, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const model = path.join(root, 'models/fer2013-mini-xception');

let server, browser, page, origin;
let outside = [];  // requests that left the local server
let pageErrors = [];

async function dropFile(bytes, name, type) {
  await dropOnCanvas(page, [[bytes, name, type]]);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
}

async function screenshot(name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}

// Runs `method` in the page and with the native CLI on the page's face crop; compares the maps.
async function compareWithCli(method, rtol, params = {}) {
  const map = await page.evaluate(async ([m, p]) => {
    const r = await window.cnnlensTest.explain(m, p);
    return { ...r, values: Array.from(r.values) };
  }, [method, params]);
  assert.equal(map.method, method);
  const crop = path.join(artifacts, 'face_crop.png');
  const out = path.join(artifacts, 'cli');
  const options = Object.entries(params).flatMap(([k, v]) => [`--${k}`, String(v)]);
  execFileSync(cli, ['explain', '--model', model, '--method', method, ...options, '--out', out, crop], { stdio: 'pipe' });
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
  browser = await launchChromium();
  ({ page, outside, pageErrors } = await openPage(browser, origin));
});

after(async () => {
  await browser?.close();
  server?.close();
});

// 3.45 MB since Winograd F(4x4, 3x3), the per-batch 3x3 dispatch, the Silu op and the
// hand-written SIMD128 sigmoid (3.412 MB with them).
test('app.wasm is under its 3.45 MB budget (before compression)', () => {
  const bytes = fs.statSync(path.join(site, 'app.wasm')).size;
  console.log(`# app.wasm ${(bytes / 1e6).toFixed(3)} MB`);
  assert.ok(bytes < 3.45e6, `app.wasm is ${bytes} bytes`);
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
  await waitReady(page);
  console.log(`# page ready in ${Date.now() - t0} ms`);
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
  // Not cross-origin isolated (no COOP/COEP, service worker blocked): the single-threaded build.
  assert.equal(await page.evaluate(() => window.cnnlensTest.build), 'st');
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

// The Explain panel's "gradients: float32" setting: saliency equals the CLI's --precision float
// map, lies within float rounding of the exact one, and the export records the precision.
test('float32 gradients equal the native CLI with --precision float', async () => {
  const exact = await page.evaluate(async () => Array.from((await window.cnnlensTest.explain('saliency')).values));
  await assert.rejects(page.evaluate(() => window.cnnlensTest.precision('double')), /exact or float/);
  await page.evaluate(() => window.cnnlensTest.precision('float'));
  try {
    const map = await page.evaluate(async () => {
      const r = await window.cnnlensTest.explain('saliency');
      return { ...r, values: Array.from(r.values) };
    });
    const out = path.join(artifacts, 'cli-float');
    execFileSync(cli, ['explain', '--model', model, '--method', 'saliency', '--precision', 'float', '--out', out,
      path.join(artifacts, 'face_crop.png')], { stdio: 'pipe' });
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'face_crop_saliency.json'), 'utf8')).precision, 'float');
    const ref = readNpy(path.join(out, 'face_crop_saliency.npy'));
    let maxRef = 0, maxCli = 0, maxExact = 0;
    for (let i = 0; i < ref.values.length; ++i) {
      maxRef = Math.max(maxRef, Math.abs(ref.values[i]));
      maxCli = Math.max(maxCli, Math.abs(ref.values[i] - map.values[i]));
      maxExact = Math.max(maxExact, Math.abs(exact[i] - map.values[i]));
    }
    assert.ok(maxRef > 0 && maxCli <= 1e-3 * maxRef, `max |page float - CLI float| = ${maxCli} of ${maxRef}`);
    assert.ok(maxExact <= 1e-3 * maxRef, `max |float - exact| = ${maxExact} of ${maxRef}`);
    const json = await downloadWith('Control+Shift+E');
    assert.equal(JSON.parse(json.bytes.toString('utf8')).result.precision, 'float');
  } finally {
    await page.evaluate(() => window.cnnlensTest.precision('exact'));
  }
});

// The remaining methods with their defaults (seed 1 on both sides). Sampling methods get a
// looser tolerance: their sums of many float passes differ between kernel sets.
for (const [method, rtol, params] of [['gradient_x_input', 1e-3], ['guided', 1e-3], ['gradcam', 1e-3],
  ['gradcampp', 1e-3], ['guided_gradcam', 1e-3], ['hirescam', 1e-3], ['xgradcam', 1e-3], ['layercam', 1e-3],
  ['eigencam', 1e-3], ['scorecam', 1e-3], ['ablationcam', 1e-3],
  ['ig', 1e-3], ['smoothgrad', 5e-3],
  ['occlusion', 1e-3], ['lime', 1e-2],
  // RISE with 1000 of its 4000 default masks: the same code, a quarter of the page's time.
  ['rise', 1e-3, { samples: 1000 }], ['blur_ig', 1e-3],
  // Guided IG's path branches on which gradients fall under a quantile, so SIMD128's and AVX's
  // roundings of one gradient can send it elsewhere (the default maps differed by 8.7 % of their
  // maximum); with max_dist 0 its path is fixed (IG's left Riemann sum) and the two must agree.
  ['guided_ig', 1e-3, { max_dist: 0 }],
  // LRP with the composite that modifies every convolution's weights in four ways (γ) and puts
  // the box rule on the first layer: the most work per op of the composites.
  ['lrp', 5e-3, { composite: 3 }],
  // The reference methods: DeepLIFT from the blurred image (its baseline computed on both sides),
  // GradientSHAP and DeepSHAP over their default baseline distributions (seed 1 on both sides).
  ['deeplift', 1e-3, { baseline: 1 }], ['gradient_shap', 5e-3], ['deepshap', 5e-3],
  // The Shapley family and XRAI: KernelSHAP's regression over 800 coalitions (its default is
  // shap's 2152; LIME's tolerance), Partition SHAP's 500 evaluations, XRAI's 2 x 100 IG steps and
  // its regions.
  ['kernel_shap', 1e-2, { samples: 800 }], ['partition_shap', 1e-3], ['xrai', 1e-3]]) {
  test(`${method} equals the native CLI`, async () => {
    const t0 = Date.now();
    await compareWithCli(method, rtol, params);
    console.log(`# ${method}: ${Date.now() - t0} ms (browser + CLI)`);
    await screenshot(`04-${method}`);
  });
}

// RISE's map fills in as its batches of masks arrive (as LIME's, below), and Cancel keeps the
// last one, marked partial.
test('RISE shows partial maps while it runs', async () => {
  await page.evaluate(() => window.cnnlensTest.start('rise', { samples: 20000 }));
  await page.waitForFunction(() => window.cnnlensTest.job().partial, null, { timeout: 30000 });
  const partial = await page.evaluate(() => window.cnnlensTest.lastMap());
  assert.equal(partial.method, 'rise');
  assert.ok(partial.values.some((v) => v > 0), 'the partial RISE map is empty');
  await page.evaluate(() => window.cnnlensTest.cancel());
  await page.waitForFunction(() => !window.cnnlensTest.job().running, null, { timeout: 10000 });
  const j = await page.evaluate(() => window.cnnlensTest.job());
  assert.ok(j.partial && j.progress < 1, JSON.stringify(j));
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '', 'a cancel is not an error');
});

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

// --- Long jobs, export, shortcuts, HiDPI ------------------------------------------------------

const job = () => page.evaluate(() => window.cnnlensTest.job());
const frames = () => page.evaluate(() => window.cnnlensTest.frames());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Polls the job state from node until pred(job) holds; on a timeout the error shows the state.
async function untilJob(pred, what, timeoutMs = 30000) {
  const t0 = Date.now();
  for (;;) {
    const j = await job();
    if (pred(j)) return j;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not seen within ${timeoutMs} ms: ${JSON.stringify(j)}`);
    await sleep(50);
  }
}

test('during LIME the page keeps drawing, LIME fills in, and Esc cancels it', async () => {
  // 5000 samples: long enough that a loaded machine cannot finish it before Esc arrives.
  await page.evaluate(() => window.cnnlensTest.start('lime', { samples: 5000 }));
  await untilJob((j) => j.running, 'LIME running');
  const f0 = await frames(), p0 = (await job()).progress, t0 = Date.now();
  await sleep(1000);
  const f1 = await frames(), j1 = await job(), fps = (f1 - f0) / ((Date.now() - t0) / 1000);
  console.log(`# ${fps.toFixed(1)} frames/s while LIME runs; progress ${p0.toFixed(3)} -> ${j1.progress.toFixed(3)}`);
  assert.ok(j1.running, 'LIME finished within a second: the test cannot see it run');
  assert.ok(fps >= 10, `only ${fps.toFixed(1)} frames/s during LIME`);
  assert.ok(j1.progress > p0, 'the progress bar did not move');
  await untilJob((j) => j.partial, 'a partial LIME result');
  const partial = await page.evaluate(() => window.cnnlensTest.lastMap());
  assert.equal(partial.method, 'lime');
  assert.ok(partial.values.some((v) => v !== 0), 'the partial LIME map is empty');
  await screenshot('06-lime-partial');
  // A click gives the canvas keyboard focus for sure (page.focus alone was not always enough
  // in headless Chromium); a loaded CI machine may need more than one slice to see the key.
  await page.click('#canvas', { position: { x: 5, y: 5 } });
  await page.keyboard.press('Escape');
  const j2 = await untilJob((j) => !j.running, 'the end of LIME after Esc');
  assert.ok(j2.progress < 1 && j2.partial, `after Esc: ${JSON.stringify(j2)}`);
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '', 'a cancel is not an error');
  await screenshot('07-lime-cancelled');
});

test('the Cancel hook stops occlusion; the app stays usable', async () => {
  await page.evaluate(() => window.cnnlensTest.start('occlusion'));
  await page.waitForFunction(() => window.cnnlensTest.job().running);
  await sleep(300);
  await page.evaluate(() => window.cnnlensTest.cancel());
  await page.waitForFunction(() => !window.cnnlensTest.job().running, null, { timeout: 5000 });
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
  await compareWithCli('saliency', 1e-3);
});

// Reads the width and height from a PNG's IHDR after checking the signature.
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'not a PNG');
  assert.equal(bytes.toString('latin1', 12, 16), 'IHDR');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

async function downloadWith(keys) {
  await page.focus('#canvas');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.keyboard.press(keys)]);
  const file = path.join(artifacts, download.suggestedFilename());
  await download.saveAs(file);
  return { name: download.suggestedFilename(), bytes: fs.readFileSync(file) };
}

test('Ctrl+S downloads the view as PNG and Ctrl+Shift+E a JSON with the seed', async () => {
  await page.evaluate(() => window.cnnlensTest.explain('gradcam'));
  const png = await downloadWith('Control+s');
  assert.match(png.name, /^pasted_gradcam\.png$/);
  const [w, h] = pngSize(png.bytes);
  assert.ok(w >= 2 * 256 + 70 && h >= 256, `view PNG ${w}x${h}`);  // face, overlay, colour bar
  const json = await downloadWith('Control+Shift+E');
  assert.match(json.name, /^pasted_gradcam\.json$/);
  const doc = JSON.parse(json.bytes.toString('utf8'));
  assert.equal(doc.result.method, 'gradcam');
  assert.equal(doc.result.seed, 1);
  assert.equal(doc.result.params.seed, 1);
  assert.equal(doc.result.precision, 'exact');
  assert.equal(doc.face.top, 'happy');
  assert.equal(doc.result.target.class_name, 'happy');
  assert.equal(doc.photo.name, 'pasted.jpg');
  assert.ok(Number.isFinite(doc.result.legend.hi));
});

test('digit keys switch the method; keys typed into a page input stay there', async () => {
  await page.focus('#canvas');
  await page.keyboard.press('1');  // saliency, recomputed live
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => window.cnnlensTest.lastMap().method === 'saliency'));
  await page.keyboard.press('6');  // gradcam
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => window.cnnlensTest.lastMap().method === 'gradcam'));
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.id = 'probe-input';
    input.style.cssText = 'position:fixed;top:0;left:0;z-index:9';
    document.body.appendChild(input);
  });
  await page.focus('#probe-input');
  await page.keyboard.type('ab1');
  await page.keyboard.press('Backspace');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.getElementById('probe-input').value), 'ab');
  await sleep(100);
  assert.equal(await page.evaluate(() => window.cnnlensTest.lastMap().method), 'gradcam', '"1" typed into the input switched the method');
  await page.evaluate(() => document.getElementById('probe-input').remove());
});

test('HiDPI: the canvas backing store is CSS size x devicePixelRatio', async () => {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 }, deviceScaleFactor: 2,
    serviceWorkers: 'block' });
  const hidpi = await context.newPage();
  try {
    await hidpi.goto(`${origin}/`);
    await waitReady(hidpi);
    const s = await hidpi.evaluate(() => {
      const c = document.getElementById('canvas');
      return { w: c.width, h: c.height, cw: c.clientWidth, ch: c.clientHeight, dpr: devicePixelRatio };
    });
    assert.equal(s.dpr, 2);
    assert.deepEqual([s.w, s.h], [s.cw * 2, s.ch * 2], JSON.stringify(s));
    await hidpi.screenshot({ path: path.join(artifacts, '08-hidpi.png') });
  } finally {
    await context.close();
  }
});

test('a canvas exactly the size of the screen stays in the page (no fullscreen request)', async () => {
  // The canvas's CSS size at this viewport, then a screen of exactly that size.
  const css = await page.evaluate(() => {
    const c = document.getElementById('canvas');
    return { w: c.clientWidth, h: c.clientHeight };
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, screen: { width: css.w, height: css.h },
    deviceScaleFactor: 1, serviceWorkers: 'block' });
  const p = await context.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  try {
    await p.goto(`${origin}/`);
    await waitReady(p);
    const s = await p.evaluate(() => {
      const c = document.getElementById('canvas');
      return { w: c.width, h: c.height, sw: screen.width, sh: screen.height, fullscreen: document.fullscreenElement !== null };
    });
    assert.deepEqual([s.sw, s.sh], [css.w, css.h], 'the emulated screen has the canvas size');
    assert.deepEqual([s.w, s.h], [css.w, css.h], JSON.stringify(s));
    assert.equal(s.fullscreen, false);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('no request leaves the local server and the page logged no errors', () => {
  assert.deepEqual(outside, []);
  assert.deepEqual(pageErrors, []);
});
