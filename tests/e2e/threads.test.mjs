// The threaded build (app-mt.*) in headless Chromium, next to the single-threaded one:
//   - served with COOP/COEP the page is cross-origin isolated and the loader starts the threaded
//     build (cnnlensTest.build === 'mt'); without them, the single-threaded one ('st');
//   - the astronaut photo's face is "happy"; LIME runs on the job thread while the page keeps
//     drawing at a clearly higher frame rate than the sliced build manages during the same LIME,
//     Cancel stops it, and a full run gives the single-threaded build's map for the same seed;
//   - on a server that sends no headers, the service worker alone makes the page isolated after
//     the one reload the loader does, and the threaded build runs.
// Environment: CNNLENS_SITE (default build/wasm/site), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, dropOnCanvas, launchChromium, openPage, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const astronaut = fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg'));

let browser, isolatedServer, plainServer;
let mt, st;  // {page, outside, pageErrors, origin} of each build, and what the tests measured

// Opens the app from `server`, drops the astronaut photo and waits until it is classified.
// `cores`: the navigator.hardwareConcurrency the page sees (default: the machine's).
async function openApp(server, name, cores = 0) {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const opened = await openPage(browser, origin);
  const { page } = opened;
  if (cores) await page.addInitScript((n) => Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => n }), cores);
  await page.goto(`${origin}/`);
  await waitReady(page);
  await dropOnCanvas(page, [[astronaut, 'astronaut.jpg', 'image/jpeg']]);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
  await page.screenshot({ path: path.join(artifacts, `threads-${name}-ready.png`) });
  return { ...opened, origin };
}

const job = (page) => page.evaluate(() => window.cnnlensTest.job());

async function untilJob(page, pred, what, timeoutMs = 30000) {
  const t0 = Date.now();
  for (;;) {
    const j = await job(page);
    if (pred(j)) return j;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not seen within ${timeoutMs} ms: ${JSON.stringify(j)}`);
    await sleep(20);
  }
}

// Starts a long LIME, counts the frames drawn over kCountMs while it runs, then cancels it with
// the hook (as the Cancel button does). Returns frames per second, the progress made meanwhile,
// the job's state after Cancel and how long Cancel took.
// Frames are counted on a smaller page: under software WebGL a frame's cost grows with its
// pixels, and at 1280x800 on a loaded 2-core machine the threaded build's frames are limited by
// the CPU left beside the job thread rather than by the job (the sliced build caps itself at
// 20 frames/s during a job either way).
const kCountMs = 3000;
const kCountViewport = { width: 640, height: 400 };
async function framesDuringLime(page) {
  await page.setViewportSize(kCountViewport);
  await sleep(300);
  const i0 = await page.evaluate(() => window.cnnlensTest.frames());
  const ti = Date.now();
  await sleep(1000);
  const idleFps = (await page.evaluate(() => window.cnnlensTest.frames()) - i0) / ((Date.now() - ti) / 1000);
  await page.evaluate(() => window.cnnlensTest.start('lime', { samples: 20000 }));
  await untilJob(page, (j) => j.running && j.progress > 0, 'LIME running');
  const f0 = await page.evaluate(() => window.cnnlensTest.frames());
  const p0 = (await job(page)).progress;
  const t0 = Date.now();
  await sleep(kCountMs);
  const f1 = await page.evaluate(() => window.cnnlensTest.frames());
  const fps = (f1 - f0) / ((Date.now() - t0) / 1000);
  const during = await job(page);
  assert.ok(during.running, 'LIME finished before the frames were counted');
  assert.ok(during.progress > p0, 'the progress bar did not move');
  const tc = Date.now();
  await page.evaluate(() => window.cnnlensTest.cancel());
  const after = await untilJob(page, (j) => !j.running, 'the end of LIME after Cancel', 10000);
  await page.setViewportSize({ width: 1280, height: 800 });
  return { fps, idleFps, progress: during.progress - p0, after, cancelMs: Date.now() - tc };
}

// LIME with 300 samples (seed 1; its other parameters at their defaults) on the selected face:
// enough batches to spread over the kernel threads, a third of the default's time.
async function limeMap(page) {
  return page.evaluate(async () => {
    const r = await window.cnnlensTest.explain('lime', { samples: 300 });
    return { ...r, values: Array.from(r.values) };
  });
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app-mt.wasm')), `no threaded build in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  isolatedServer = await serve(site, { isolate: true });
  plainServer = await serve(site);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  isolatedServer?.close();
  plainServer?.close();
});

test('app-mt.wasm is under the 3 MB budget too, and the worker script is in the site', () => {
  const bytes = fs.statSync(path.join(site, 'app-mt.wasm')).size;
  console.log(`# app-mt.wasm ${(bytes / 1e6).toFixed(3)} MB`);
  assert.ok(bytes < 3e6, `app-mt.wasm is ${bytes} bytes`);
  assert.ok(fs.existsSync(path.join(site, 'app-mt.worker.js')));
});

// One page at a time: every page draws frames, and on a small machine a second one would eat
// into the frame rates measured.
test('with COOP/COEP the page is isolated and runs the threaded build; LIME keeps the frames coming', async () => {
  mt = await openApp(isolatedServer, 'mt');
  const { page } = mt;
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), true);
  assert.equal(await page.evaluate(() => window.cnnlensTest.build), 'mt');
  const { cores, kernelThreads } = await page.evaluate(() =>
    ({ cores: navigator.hardwareConcurrency, kernelThreads: window.cnnlensTest.kernelThreads }));
  assert.equal(kernelThreads, Math.min(Math.max(cores - 1, 1), 4), `${cores} cores`);
  mt.kernelThreads = kernelThreads;
  mt.faces = await page.evaluate(() => window.cnnlensTest.faces());
  assert.equal(mt.faces.length, 1, JSON.stringify(mt.faces));
  assert.equal(mt.faces[0].top, 'happy');
  mt.lime = await framesDuringLime(page);
  await page.screenshot({ path: path.join(artifacts, 'threads-mt-lime-cancelled.png') });
  assert.ok(mt.lime.after.progress < 1 && mt.lime.after.partial, `after Cancel: ${JSON.stringify(mt.lime.after)}`);
  const t0 = Date.now();
  mt.map = await limeMap(page);
  mt.limeMs = Date.now() - t0;
  assert.equal(mt.map.method, 'lime');
  assert.equal(await page.evaluate(() => window.cnnlensTest.job().partial), false);
  await page.screenshot({ path: path.join(artifacts, 'threads-mt-lime.png') });
});

test('the threaded build keeps the extra panels working (class grid, feature maps)', async () => {
  const { page } = mt;
  const frames = async (n) => {
    const f0 = await page.evaluate(() => window.cnnlensTest.frames());
    await page.waitForFunction(([f, k]) => window.cnnlensTest.frames() > f + k, [f0, n]);
  };
  const panelsIdle = async () => {
    await frames(2);
    await page.waitForFunction(() => window.cnnlensTest.panelsIdle().then(() => true), null, { timeout: 60000 });
    await frames(2);
  };
  // The forward benchmark keeps its thread count from call to call (no worker started and
  // joined per sample); the next job puts the app's count back.
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const want = Math.min(cores, 4);
  for (let i = 0; i < 2; ++i) {
    const res = await page.evaluate((t) => window.cnnlensTest.benchForward(1, 3, t), want);
    assert.equal(res.threads, want, JSON.stringify(res));
    assert.ok(res.ms_per_image > 0, JSON.stringify(res));
    assert.equal(await page.evaluate(() => window.cnnlensTest.kernelThreads), want);
  }
  // With `profile`, every node that ran has its time, slowest first.
  const prof = await page.evaluate((t) => window.cnnlensTest.benchForward(1, 2, t, true), want);
  assert.ok(prof.nodes.length >= 10, JSON.stringify(prof).slice(0, 400));
  assert.ok(prof.nodes.some((n) => n[1] === 'Conv2D'), JSON.stringify(prof.nodes.slice(0, 5)));
  for (const [name, , ms] of prof.nodes) assert.ok(name && ms > 0, `${name} ${ms}`);
  for (let i = 1; i < prof.nodes.length; ++i) assert.ok(prof.nodes[i][2] <= prof.nodes[i - 1][2]);
  assert.ok(prof.nodes.reduce((a, n) => a + n[2], 0) <= 3 * prof.ms_per_image + 1, JSON.stringify(prof).slice(0, 400));
  await page.evaluate(() => window.cnnlensTest.explain('saliency'));
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
  assert.equal(await page.evaluate(() => window.cnnlensTest.kernelThreads), mt.kernelThreads);
  await page.evaluate(() => window.cnnlensTest.panels('tab grid'));
  await panelsIdle();
  const grid = await page.evaluate(() => window.cnnlensTest.panels('grid'));
  assert.equal(grid.method, 'saliency');
  assert.equal(grid.done, 7, JSON.stringify(grid));
  assert.ok(grid.maxAbs.every((m) => m > 0), `every class map is non-zero: ${grid.maxAbs}`);
  const layers = await page.evaluate(() => window.cnnlensTest.layers());
  const conv = layers.filter((l) => l.shape.length === 4 && l.shape[1] > 1 && l.op === 'Conv2D').at(-1);
  await page.evaluate((n) => window.cnnlensTest.panels(`layer ${n}`), conv.node);
  await panelsIdle();
  const inside = await page.evaluate(() => window.cnnlensTest.inside());
  assert.equal(inside.mapsLayer, conv.node);
  assert.deepEqual([inside.maps.height, inside.maps.width, inside.maps.channels], conv.shape.slice(1));
  await page.screenshot({ path: path.join(artifacts, 'threads-mt-feature-maps.png') });
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
  await page.context().close();
});

// The kernel pool with more threads than this machine may have: the page is told it has 4 cores,
// so the job thread and two workers split the kernels' loops; LIME's map stays the same.
test('with 4 cores reported, the kernels run on 3 threads and LIME gives the same map', async () => {
  const four = await openApp(isolatedServer, 'mt-4-cores', 4);
  try {
    assert.equal(await four.page.evaluate(() => window.cnnlensTest.build), 'mt');
    assert.equal(await four.page.evaluate(() => window.cnnlensTest.kernelThreads), 3);
    const t0 = Date.now();
    const map = await limeMap(four.page);
    console.log(`# LIME-300 on 3 kernel threads: ${Date.now() - t0} ms (${mt.limeMs} ms on ${mt.kernelThreads})`);
    assert.deepEqual(map.values, mt.map.values);
    assert.deepEqual(four.pageErrors, []);
  } finally {
    await four.page.context().close();
  }
});

test('without the headers the single-threaded build runs the same LIME', async () => {
  st = await openApp(plainServer, 'st');
  const { page } = st;
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
  assert.equal(await page.evaluate(() => window.cnnlensTest.build), 'st');
  assert.equal(await page.evaluate(() => window.cnnlensTest.kernelThreads), 1);
  const faces = await page.evaluate(() => window.cnnlensTest.faces());
  assert.deepEqual(faces.map((f) => f.top), mt.faces.map((f) => f.top));
  for (let i = 0; i < 7; ++i) assert.ok(Math.abs(faces[0].probs[i] - mt.faces[0].probs[i]) < 1e-6, `probability ${i}`);
  st.lime = await framesDuringLime(page);
  assert.ok(st.lime.after.progress < 1 && st.lime.after.partial, `after Cancel: ${JSON.stringify(st.lime.after)}`);
  const t0 = Date.now();
  st.map = await limeMap(page);
  st.limeMs = Date.now() - t0;
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
  await page.context().close();
});

test('LIME on the job thread equals the single-threaded map (same face, seed 1)', () => {
  const [a, b] = [mt.map, st.map];
  console.log(`# LIME-300: threaded ${mt.limeMs} ms, sliced ${st.limeMs} ms`);
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < b.values.length; ++i) {
    maxRef = Math.max(maxRef, Math.abs(b.values[i]));
    maxDiff = Math.max(maxDiff, Math.abs(a.values[i] - b.values[i]));
  }
  console.log(`# LIME map: max |threaded - sliced| = ${maxDiff.toExponential(2)} (max |map| ${maxRef.toExponential(2)})`);
  assert.ok(maxRef > 0, 'the LIME map is all zeros');
  assert.ok(maxDiff <= 1e-4 * maxRef, `max |threaded - sliced| = ${maxDiff} > 1e-4 * ${maxRef}`);
});

test('during LIME the threaded build draws clearly more frames per second than the sliced one', () => {
  const [a, b] = [mt.lime, st.lime];
  console.log(`# frames/s during LIME: threaded ${a.fps.toFixed(1)}, sliced ${b.fps.toFixed(1)} ` +
    `(idle before: ${a.idleFps.toFixed(1)}, ${b.idleFps.toFixed(1)}); ` +
    `LIME progress in ${kCountMs / 1000} s: threaded ${a.progress.toFixed(3)}, sliced ${b.progress.toFixed(3)}; ` +
    `Cancel took ${a.cancelMs} ms (threaded), ${b.cancelMs} ms (sliced)`);
  // The sliced build caps itself at 20 frames/s during a job; the threaded one draws every
  // animation frame the CPU left beside the job thread allows (measured here: 1.7x-4.6x the
  // sliced rate at 640x400 with other work on the machine).
  assert.ok(a.fps >= 1.3 * b.fps, `threaded ${a.fps.toFixed(1)} frames/s vs sliced ${b.fps.toFixed(1)}`);
});

test('no page errors and no request left the servers', () => {
  for (const r of [mt, st]) {
    assert.deepEqual(r.outside, []);
    assert.deepEqual(r.pageErrors, []);
  }
});

test('on a server without headers the service worker alone makes the page isolated (after one reload)', async () => {
  const server = await serve(site);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1,
    serviceWorkers: 'allow' });
  try {
    const page = await context.newPage();
    const navigations = [];
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.cnnlensTest && window.cnnlensTest.build !== null &&
      window.cnnlensTest.ready.then(() => true), null, { timeout: 90000 });
    const s = await page.evaluate(() => ({ isolated: self.crossOriginIsolated, build: window.cnnlensTest.build,
      controlled: !!navigator.serviceWorker.controller }));
    console.log(`# service worker: ${navigations.length} navigations, ${JSON.stringify(s)}`);
    assert.deepEqual(s, { isolated: true, build: 'mt', controlled: true });
    assert.equal(navigations.length, 2, `navigations: ${navigations.join(', ')}`);
    await dropOnCanvas(page, [[astronaut, 'astronaut.jpg', 'image/jpeg']]);
    await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
    assert.equal((await page.evaluate(() => window.cnnlensTest.faces()))[0].top, 'happy');
    // A later visit is isolated from its first navigation (the worker serves it).
    await page.reload();
    await waitReady(page, 90000);
    assert.equal(await page.evaluate(() => window.cnnlensTest.build), 'mt');
    assert.equal(navigations.length, 3);
  } finally {
    await context.close();
    server.close();
  }
});
