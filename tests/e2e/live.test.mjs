// Live mode end to end, in both builds (single-threaded: plain server; threaded: served with
// COOP/COEP), with Chromium's fake camera playing a video made from the astronaut photo (the
// face pans and zooms; live_camera.mjs):
//   - the L key turns Live on; the face is found in most processed frames, keeps its id, and is
//     classified and explained by the chosen cheap method;
//   - F (Freeze) opens the frame shown as the photo: its face's class is what `cnnlens predict`
//     says of that frame, and the Live map is what `cnnlens explain` computes on the face's crop;
//   - R records: a WebM (EBML header, frames spanning a nonzero time) and a CSV of per-frame
//     probabilities, both as downloads;
//   - a hidden tab releases the camera (its tracks end) and turns Live off;
//   - a refused camera, a missing one and one in use each give their message, and the app keeps
//     its photo; no request leaves the origin and nothing is stored.
// Prints the Live measurements (processed and drawn frames per second with saliency and with
// Grad-CAM, delay, ms per stage) as the README's table rows (bench/live.mjs prints the table).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, cli, dropOnCanvas, openPage, readNpy, root, site, waitReady } from './harness.mjs';
import { kLiveTableHeader, launchWithCamera, live, liveOn, liveRow, measureLive, pressKey, untilLive } from './live_camera.mjs';
import { serve } from './serve.mjs';

const model = path.join(root, 'models/fer2013-mini-xception');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rows = [];

let browser, plainServer, isolatedServer;
const pages = [];  // every page opened, for the request and error checks at the end

async function openApp(build) {
  const server = build === 'mt' ? isolatedServer : plainServer;
  const origin = `http://127.0.0.1:${server.address().port}`;
  const opened = await openPage(browser, origin);
  await opened.page.goto(`${origin}/`);
  await waitReady(opened.page);
  assert.equal(await opened.page.evaluate(() => window.cnnlensTest.build), build);
  pages.push(opened);
  return opened.page;
}

// The time a WebM spans in ms: the largest cluster timecode plus block offset (MediaRecorder
// writes no Duration element). Walks the EBML elements down to the (Simple)Blocks.
function webmSpanMs(b) {
  const vint = (p, keepMarker) => {
    const first = b[p];
    let len = 1;
    while (len <= 8 && !(first & (0x80 >> (len - 1)))) ++len;
    if (len > 8) throw new Error(`bad EBML length at ${p}`);
    let v = keepMarker ? first : first & (0xff >> len);
    let unknown = v === (0xff >> len);
    for (let i = 1; i < len; ++i) { v = v * 256 + b[p + i]; if (b[p + i] !== 0xff) unknown = false; }
    return { v, len, unknown };
  };
  let span = 0, clusterTime = 0, blocks = 0;
  const walk = (p, end) => {
    while (p < end && p < b.length) {
      const id = vint(p, true), size = vint(p + id.len, false);
      const body = p + id.len + size.len, stop = size.unknown ? end : body + size.v;
      if ([0x18538067, 0x1f43b675, 0xa0].includes(id.v)) walk(body, Math.min(stop, b.length));  // Segment, Cluster, BlockGroup
      else if (id.v === 0xe7) { clusterTime = 0; for (let i = 0; i < size.v; ++i) clusterTime = clusterTime * 256 + b[body + i]; }
      else if (id.v === 0xa3 || id.v === 0xa1) {  // (Simple)Block
        span = Math.max(span, clusterTime + b.readInt16BE(body + vint(body, false).len));
        ++blocks;
      }
      p = stop;
    }
  };
  assert.deepEqual([...b.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], 'no EBML magic');
  walk(0, b.length);
  assert.ok(blocks >= 2, `the WebM holds ${blocks} frames`);
  return span;
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  plainServer = await serve(site);
  isolatedServer = await serve(site, { isolate: true });
  browser = await launchWithCamera('accept');
});

after(async () => {
  await browser?.close();
  plainServer?.close();
  isolatedServer?.close();
  if (rows.length) console.log(`# Live in headless Chromium (${new Date().toISOString().slice(0, 10)}):\n# ${kLiveTableHeader.replace(/\n/g, '\n# ')}\n# ${rows.join('\n# ')}`);
});

for (const build of ['st', 'mt']) {
  test(`${build}: Live follows the camera's face; Freeze gives the CLI's class and map; Record saves WebM and CSV`, async () => {
    const page = await openApp(build);
    const v0 = await page.evaluate(() => window.cnnlensTest.photoVersion());
    const on = await liveOn(page);
    assert.deepEqual(on.frame.video, [640, 480]);
    await untilLive(page, (l) => l.stats.processed >= 15, '15 processed frames', 60000);
    const l = await live(page);
    console.log(`# ${build}: ${l.stats.withFace} of ${l.stats.processed} processed frames with a face`);
    assert.ok(l.stats.withFace >= 0.8 * l.stats.processed, `a face in ${l.stats.withFace} of ${l.stats.processed} frames`);
    assert.equal(l.method, 'saliency');
    await page.screenshot({ path: path.join(artifacts, `live-${build}.png`) });

    // The measurements, with saliency and with Grad-CAM.
    for (const method of ['saliency', 'gradcam']) {
      const m = await measureLive(page, method);
      rows.push(liveRow(build, m));
      assert.ok(m.processed > 0, `${method}: no frame processed`);
      assert.ok(m.withFace >= 0.8, `${method}: a face in ${(100 * m.withFace).toFixed(0)} % of the frames`);
      assert.equal(new Set(m.faces.map((f) => f.id)).size, m.faces.length);
    }
    await page.evaluate(() => window.cnnlensTest.liveMethod('saliency'));
    await sleep(1000);
    await page.screenshot({ path: path.join(artifacts, `live-${build}-saliency.png`) });

    // Record for two seconds: R, R; the WebM and the CSV come as downloads.
    const downloads = [];
    page.on('download', (d) => downloads.push(d));
    await pressKey(page, 'r');
    await untilLive(page, (x) => x.recording, 'recording');
    await sleep(2000);
    await pressKey(page, 'r');
    for (let t0 = Date.now(); downloads.length < 2 && Date.now() - t0 < 15000;) await sleep(100);
    const files = {};
    for (const d of downloads) {
      const file = path.join(artifacts, `${build}-${d.suggestedFilename()}`);
      await d.saveAs(file);
      files[path.extname(file)] = fs.readFileSync(file);
    }
    assert.deepEqual(Object.keys(files).sort(), ['.csv', '.webm'], downloads.map((d) => d.suggestedFilename()).join(', '));
    const spanMs = webmSpanMs(files['.webm']);
    console.log(`# ${build}: recording ${files['.webm'].length} bytes spanning ${spanMs} ms`);
    assert.ok(spanMs > 0, `the WebM spans ${spanMs} ms`);
    const lines = files['.csv'].toString().trim().split('\n');
    assert.equal(lines[0], 'time_ms,frame,face,x,y,width,height,angry,disgust,fear,happy,sad,surprise,neutral');
    assert.ok(lines.length > 5, `${lines.length - 1} CSV rows`);
    for (const line of lines.slice(1)) {
      const v = line.split(',').map(Number);
      assert.equal(v.length, 14, line);
      assert.ok(v.every(Number.isFinite), line);
      assert.ok(Math.abs(v.slice(7).reduce((a, b) => a + b, 0) - 1) < 1e-3, line);
    }

    // Freeze: the frame shown becomes the photo, and Live turns off.
    await pressKey(page, 'f');
    await page.waitForFunction(() => window.cnnlensTest.live().state === 'off' && window.cnnlensTest.photo().name.startsWith('live-frame-'));
    await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
    assert.ok(await page.evaluate(() => window.cnnlensTest.photoVersion()) > v0);
    const frozen = await live(page);
    const photo = await page.evaluate(() => window.cnnlensTest.photo());
    assert.equal(photo.name, `live-frame-${frozen.frame.id}.png`);
    assert.deepEqual([photo.width, photo.height], [frozen.frame.width, frozen.frame.height]);
    const faces = await page.evaluate(() => window.cnnlensTest.faces());
    assert.equal(faces.length, 1, JSON.stringify(faces));
    assert.ok(frozen.faces.length >= 1, 'the frozen frame had no tracked face');
    const face = frozen.faces[0];
    const framePng = path.join(artifacts, `live-${build}-frame.png`), cropPng = path.join(artifacts, `live-${build}-crop.png`);
    fs.writeFileSync(framePng, Buffer.from(await page.evaluate(() => Array.from(window.cnnlensTest.photoPng()))));
    fs.writeFileSync(cropPng, Buffer.from(await page.evaluate(() => Array.from(window.cnnlensTest.liveCropPng(0)))));
    const predicted = JSON.parse(execFileSync(cli, ['predict', '--model', model, '--json', framePng]).toString());
    const cliFaces = predicted.images[0].faces;
    assert.equal(cliFaces.length, 1, JSON.stringify(cliFaces));
    assert.equal(face.top, cliFaces[0].top, `Live says ${face.top}, cnnlens predict on the frozen frame ${cliFaces[0].top}`);
    assert.equal(faces[0].top, cliFaces[0].top);
    // The Live overlay is the CLI's map of the crop it was computed on.
    const map = await page.evaluate(() => { const m = window.cnnlensTest.liveMap(0); return { ...m, values: Array.from(m.values) }; });
    assert.equal(map.method, 'saliency');
    const out = path.join(artifacts, `live-${build}-cli`);
    execFileSync(cli, ['explain', '--model', model, '--method', 'saliency', '--class', map.cls, '--faces', 'whole', '--out', out, cropPng], { stdio: 'pipe' });
    const ref = readNpy(path.join(out, `live-${build}-crop_saliency.npy`));
    assert.deepEqual(ref.shape.slice(-2), [map.height, map.width]);
    let maxRef = 0, maxDiff = 0;
    for (let i = 0; i < ref.values.length; ++i) {
      maxRef = Math.max(maxRef, Math.abs(ref.values[i]));
      maxDiff = Math.max(maxDiff, Math.abs(ref.values[i] - map.values[i]));
    }
    assert.ok(maxRef > 0, 'the CLI map is all zeros');
    assert.ok(maxDiff <= 1e-3 * maxRef, `max |Live - CLI| = ${maxDiff} > 1e-3 * ${maxRef}`);
    // Every method runs on the frozen photo, as on a dropped one (here a job: Grad-CAM++ ran
    // never in Live; LIME is long in the sliced build).
    const pp = await page.evaluate(() => window.cnnlensTest.explain('gradcampp').then((m) => m && m.method));
    assert.equal(pp, 'gradcampp');
    await page.screenshot({ path: path.join(artifacts, `live-${build}-frozen.png`) });

    // The tab hidden: the camera is released and Live turns off.
    await liveOn(page);
    assert.deepEqual(await page.evaluate(() => window.cnnlensTest.liveTracks()), ['live']);
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await untilLive(page, (x) => x.state === 'off', 'Live off after the tab was hidden');
    assert.deepEqual(await page.evaluate(() => window.cnnlensTest.liveTracks()), ['ended']);
    assert.match(await page.evaluate(() => window.cnnlensTest.error()), /tab was hidden/);
    // Nothing stored.
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);
    await page.context().close();
  });
}

test('a refused, missing or busy camera: the message says which, the photo stays', async () => {
  const cases = [
    ['refused', null, /camera permission was refused/],
    ['missing', 'NotFoundError', /no camera was found/],
    ['in use', 'NotReadableError', /in use by another application/],
  ];
  const refusing = await launchWithCamera('default');
  try {
    for (const [what, errorName, message] of cases) {
      const origin = `http://127.0.0.1:${plainServer.address().port}`;
      const opened = await openPage(what === 'refused' ? refusing : browser, origin);
      const { page } = opened;
      pages.push(opened);
      if (errorName) {
        await page.addInitScript((name) => {
          navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('test', name));
        }, errorName);
      }
      await page.goto(`${origin}/`);
      await waitReady(page);
      await dropOnCanvas(page, [[fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'astronaut.jpg', 'image/jpeg']]);
      await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
      const v = await page.evaluate(() => window.cnnlensTest.photoVersion());
      await pressKey(page, 'l');
      await page.waitForFunction(() => window.cnnlensTest.error() !== '', null, { timeout: 20000 });
      const error = await page.evaluate(() => window.cnnlensTest.error());
      console.log(`# camera ${what}: ${error}`);
      assert.match(error, message);
      assert.equal((await live(page)).state, 'off');
      assert.equal(await page.evaluate(() => window.cnnlensTest.photoVersion()), v);
      assert.equal((await page.evaluate(() => window.cnnlensTest.faces()))[0].top, 'happy');
      await page.screenshot({ path: path.join(artifacts, `live-camera-${what.replace(' ', '-')}.png`) });
      await page.context().close();
    }
  } finally {
    await refusing.close();
  }
});

test('no request left the origin and the pages had no errors', () => {
  for (const p of pages) {
    assert.deepEqual(p.outside, []);
    assert.deepEqual(p.pageErrors, []);
  }
});
