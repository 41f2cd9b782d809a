// Photos as phones and the web save them, in the page (headless Chromium, as app.test.mjs); the
// files are made at test time from scikit-image's astronaut (make_photos.py, into build/photos):
//   - a WebP and an AVIF photo (decoded by the browser) find the face the PNG finds (decoded by
//     the engine), with probabilities close to the PNG's;
//   - a TIFF, which neither the browser nor the engine decodes, gives an error naming TIFF and
//     keeps the previous photo and its faces;
//   - one photo stored in all eight EXIF orientations opens upright every time when the browser
//     decodes it: the same face box and the same probabilities within 1e-5;
//   - a 48-megapixel JPEG opens in both builds (the threaded one has a fixed 1 GB of memory):
//     full size kept, one downscale for the preview and the detector, the face found.
// Environment: CNNLENS_SITE (default build/wasm/site), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, dropOnCanvas, launchChromium, openPage, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const photoDir = path.join(root, 'build/photos');
const orientations = [1, 2, 3, 4, 5, 6, 7, 8];
const photoNames = ['astronaut.png', 'astronaut.webp', 'astronaut.avif', 'astronaut.tiff', 'jpeg-48mp.jpg',
  ...orientations.map((k) => `orient-${k}.jpg`)];
const read = (name) => fs.readFileSync(path.join(photoDir, name));

let browser, plainServer, isolatedServer;
let st;  // the single-threaded page: {page, pageErrors}

async function openApp(server) {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const opened = await openPage(browser, origin);
  await opened.page.goto(`${origin}/`);
  await waitReady(opened.page);
  return opened;
}

// Drops one photo and waits until the page is idle; returns what the page shows.
async function drop(page, name, type = '') {
  await dropOnCanvas(page, [[read(name), name, type]]);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true), null, { timeout: 120000 });
  return page.evaluate(() => {
    const t = window.cnnlensTest;
    return { faces: t.faces(), photo: t.photo(), error: t.error(), version: t.photoVersion(), timings: t.photoTimings() };
  });
}

const maxDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  execFileSync('/usr/bin/python3', [path.join(root, 'tests/e2e/make_photos.py'), photoDir, ...photoNames], { stdio: 'inherit' });
  plainServer = await serve(site);
  isolatedServer = await serve(site, { isolate: true });
  browser = await launchChromium();
  st = await openApp(plainServer);
});

after(async () => {
  await browser?.close();
  plainServer?.close();
  isolatedServer?.close();
});

let png;  // what the page shows for the lossless photo

test('WebP and AVIF photos are decoded by the browser and find the PNG\'s face', async () => {
  png = await drop(st.page, 'astronaut.png', 'image/png');
  assert.equal(png.error, '');
  assert.equal(png.faces.length, 1, JSON.stringify(png.faces));
  assert.ok('decode' in png.timings, `the engine decodes a small PNG: ${JSON.stringify(png.timings)}`);
  for (const [name, type] of [['astronaut.webp', 'image/webp'], ['astronaut.avif', 'image/avif']]) {
    const got = await drop(st.page, name, type);
    assert.equal(got.error, '', name);
    assert.equal(got.version, png.version + (name.endsWith('webp') ? 1 : 2), `${name} was not opened`);
    assert.deepEqual([got.photo.name, got.photo.width, got.photo.height], [name, 512, 512]);
    assert.ok('browserDecode' in got.timings && !('decode' in got.timings), `${name}: ${JSON.stringify(got.timings)}`);
    assert.equal(got.faces.length, 1, `${name}: ${JSON.stringify(got.faces)}`);
    const [f] = got.faces;
    const d = maxDiff(f.probs, png.faces[0].probs), box = maxDiff(f.box, png.faces[0].box);
    console.log(`# ${name}: top ${f.top}, max |p - p(PNG)| = ${d.toExponential(2)}, box within ${box.toFixed(2)} px`);
    assert.equal(f.top, png.faces[0].top, name);
    assert.ok(d < 0.05, `${name}: probabilities ${f.probs} vs the PNG's ${png.faces[0].probs}`);
    assert.ok(box < 4, `${name}: box ${f.box} vs the PNG's ${png.faces[0].box}`);
  }
});

test('a TIFF (nothing here decodes it) names its format and keeps the previous photo', async () => {
  const before = await st.page.evaluate(() => ({ faces: window.cnnlensTest.faces(), version: window.cnnlensTest.photoVersion() }));
  const got = await drop(st.page, 'astronaut.tiff', 'image/tiff');
  assert.match(got.error, /astronaut\.tiff/);
  assert.match(got.error, /\bTIFF\b/, got.error);
  assert.equal(got.version, before.version, 'the photo changed');
  assert.deepEqual(got.faces, before.faces);
  assert.equal(got.photo.name, 'astronaut.avif');
});

// The browser decodes them here (the page gives JPEGs to the engine, whose decode_image applies
// the orientation too: tests/image).
test('all eight EXIF orientations open upright: same face box, probabilities within 1e-5', async () => {
  await st.page.evaluate(() => window.cnnlensTest.setPhotoDecoder('browser'));
  let upright;
  for (const k of orientations) {
    const got = await drop(st.page, `orient-${k}.jpg`, 'image/jpeg');
    assert.equal(got.error, '', `orientation ${k}`);
    assert.deepEqual([got.photo.width, got.photo.height], [2048, 2048]);
    assert.ok('browserDecode' in got.timings, `orientation ${k}: ${JSON.stringify(got.timings)}`);
    assert.equal(got.faces.length, 1, `orientation ${k}: ${JSON.stringify(got.faces)}`);
    if (k === 1) { upright = got.faces[0]; continue; }
    const f = got.faces[0];
    assert.ok(maxDiff(f.box, upright.box) < 1e-3, `orientation ${k}: box ${f.box} vs upright ${upright.box}`);
    assert.ok(maxDiff(f.probs, upright.probs) <= 1e-5, `orientation ${k}: ${f.probs} vs upright ${upright.probs}`);
  }
  console.log(`# upright face: ${upright.top} ${Math.max(...upright.probs).toFixed(4)}, box ${upright.box.map((v) => v.toFixed(1))}`);
  await st.page.evaluate(() => window.cnnlensTest.setPhotoDecoder('auto'));
});

// A 48-megapixel JPEG in each build: kept whole, shown through one preview (its 8 x 8 block
// means), its face found where the 512x512 photo's is (scaled by 8000 / 512).
for (const build of ['st', 'mt']) {
  test(`a 48-megapixel JPEG opens (${build})`, async () => {
    const opened = build === 'st' ? st : await openApp(isolatedServer);
    try {
      assert.equal(await opened.page.evaluate(() => window.cnnlensTest.build), build);
      const got = await drop(opened.page, 'jpeg-48mp.jpg', 'image/jpeg');
      assert.equal(got.error, '');
      assert.ok('decode' in got.timings, `the engine decodes JPEGs: ${JSON.stringify(got.timings)}`);
      assert.deepEqual([got.photo.width, got.photo.height, got.photo.previewWidth, got.photo.previewHeight], [8000, 6000, 1000, 750]);
      assert.equal(got.faces.length, 1, JSON.stringify(got.faces));
      const s = 8000 / 512, [f] = got.faces, ref = png.faces[0];
      const off = Math.max(...f.box.map((v, i) => Math.abs(v / s - ref.box[i])));
      console.log(`# 48 MP (${build}): ${f.top} ${Math.max(...f.probs).toFixed(3)}, box / ${s.toFixed(3)} within ${off.toFixed(2)} px ` +
        `of the 512x512 photo's; ${JSON.stringify(got.timings, (k, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
      assert.ok(off < 4, `box ${f.box} vs the 512x512 photo's ${ref.box} x ${s}`);
      assert.equal(f.top, ref.top);
      assert.deepEqual(opened.pageErrors, []);
    } finally {
      if (opened !== st) await opened.page.context().close();
    }
  });
}

test('no page errors', () => {
  assert.deepEqual(st.pageErrors, []);
});
