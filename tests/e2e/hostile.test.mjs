// Hostile input and privacy in the browser app (headless Chromium, as app.test.mjs):
//   - files of the bad-input catalogue (tests/data/bad/catalogue.json) dropped onto the page show
//     their catalogued error, and the app keeps its photo, its model and keeps explaining;
//   - the page's Content-Security-Policy admits no third-party origin and still lets the app run
//     (wasm compilation, blob: downloads, data: icons), and it blocks a third-party fetch;
//   - with the service worker allowed (app.test.mjs blocks it), the worker takes over the page
//     and neither the page nor the worker sends a request to any origin but the page's own.
// The page loads the worker first and reloads once it controls the page (cross-origin isolation
// for hosts without headers, loader.js), so these tests run the threaded build.
// Environment: CNNLENS_SITE (default build/wasm/site), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, dropOnCanvas, launchChromium, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const bad = path.join(root, 'tests/data/bad');
const catalogue = JSON.parse(fs.readFileSync(path.join(bad, 'catalogue.json'), 'utf8'));

let server, browser, context, page, origin;
const requests = [];   // every request the context saw: {url, worker}
const pageErrors = [];

async function dropFiles(files) {
  await dropOnCanvas(page, files);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
}

// The files to drop for a catalogue entry: a model's folder is dropped whole (model.json and
// whatever weight shard is there), like a user dropping the folder's files.
function filesOf(entry) {
  const file = path.join(bad, entry.file);
  if (entry.kind !== 'model') return [[fs.readFileSync(file), path.basename(file), '']];
  const dir = path.dirname(file);
  return fs.readdirSync(dir).sort().map((n) => [fs.readFileSync(path.join(dir, n)), n, '']);
}


function outside() {
  return requests.filter((r) => !r.url.startsWith(origin + '/') && !r.url.startsWith('data:') && !r.url.startsWith('blob:'));
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  server = await serve(site);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1,
    serviceWorkers: 'allow' });
  // Page requests and (Chromium) the service worker's own fetches both arrive here.
  context.on('request', (r) => requests.push({ url: r.url(), worker: !!r.serviceWorker() }));
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('the Content-Security-Policy admits no third-party origin, and the app runs under it', async () => {
  await page.goto(`${origin}/`);
  await waitReady(page, 90000);
  const csp = await page.evaluate(() => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content || '');
  assert.ok(csp, 'index.html has no Content-Security-Policy meta tag');
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim()).filter(Boolean)
    .map((d) => { const [k, ...v] = d.split(/\s+/); return [k, v]; }));
  assert.deepEqual(directives['default-src'], ["'self'"]);
  const allowed = new Set(["'self'", "'none'", "'wasm-unsafe-eval'", 'blob:', 'data:']);
  for (const [name, sources] of Object.entries(directives))
    for (const s of sources) assert.ok(allowed.has(s), `${name} admits ${s}: only the page's own origin is allowed`);
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
});

test('bad files show their error; the photo, the model and explanations keep working', async () => {
  await dropFiles([[fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'astronaut.jpg', 'image/jpeg']]);
  const v0 = await page.evaluate(() => window.cnnlensTest.photoVersion());
  const faces0 = await page.evaluate(() => window.cnnlensTest.faces());
  assert.equal(faces0.length, 1);
  assert.equal(faces0[0].top, 'happy');
  const picks = ['text.png', 'empty.png', 'huge.png', 'truncated.jpg', 'truncated.png', 'zero_width.png',
    'fuzz/jpeg_huffman_413_codes.jpg', 'model_without_weights/model.json', 'short_shard/model.json',
    'nan_weights/model.json', 'unknown_op/model.json', 'cycle/model.json', 'zero_dim/model.json',
    'huge_activations/model.json', 'wrong_pixel_count.csv', 'label_out_of_range.csv'];
  for (const file of picks) {
    const entry = catalogue.find((e) => e.file === file);
    assert.ok(entry, `${file} is not in the catalogue`);
    const t0 = Date.now();
    await dropFiles(filesOf(entry));
    const error = await page.evaluate(() => window.cnnlensTest.error());
    assert.ok(error.includes(entry.expect), `${file}: the page shows "${error}", expected it to contain "${entry.expect}"`);
    assert.equal(await page.evaluate(() => window.cnnlensTest.photoVersion()), v0, `${file} replaced the photo`);
    const faces = await page.evaluate(() => window.cnnlensTest.faces());
    assert.deepEqual(faces.map((f) => [f.top, f.probs.length]), [['happy', 7]], `${file}: the model or the faces changed`);
    console.log(`# ${file}: ${Date.now() - t0} ms, "${error.split('\n')[0].slice(0, 100)}"`);
  }
  await page.screenshot({ path: path.join(artifacts, 'hostile-last-error.png') });
  const map = await page.evaluate(async () => {
    const r = await window.cnnlensTest.explain('saliency');
    return { width: r.width, height: r.height, max: Math.max(...Array.from(r.values).map(Math.abs)) };
  });
  assert.equal(map.width * map.height, 64 * 64);
  assert.ok(map.max > 0, 'saliency after the bad files is all zeros');
  // A good photo after all that opens normally and clears the error.
  await dropFiles([[fs.readFileSync(path.join(root, 'tests/data/astronaut_face.png')), 'face.png', 'image/png']]);
  assert.equal(await page.evaluate(() => window.cnnlensTest.error()), '');
  assert.ok(await page.evaluate(() => window.cnnlensTest.photoVersion()) > v0);
});

test('the service worker takes over; no request, from the page or the worker, leaves the origin', async () => {
  const controlled = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return !!reg.active;
  });
  assert.ok(controlled, 'the service worker did not activate');
  const before = requests.length;
  await page.reload();
  await waitReady(page, 90000);
  assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the reloaded page is not served by the worker');
  const reload = requests.slice(before);
  const fromWorker = reload.filter((r) => r.worker);
  console.log(`# reload: ${reload.length} requests, ${fromWorker.length} made by the service worker`);
  // The worker's headers make the page cross-origin isolated, so the threaded build runs.
  assert.equal(await page.evaluate(() => window.cnnlensTest.build), 'mt');
  assert.ok(fromWorker.some((r) => /\/app-mt(-fma)?\.wasm$/.test(r.url)), 'the worker did not fetch app-mt.wasm or app-mt-fma.wasm (its requests are not observed)');
  assert.deepEqual(outside(), []);
  assert.deepEqual(pageErrors, []);
});

test('the policy blocks a request to another origin', async () => {
  const seen = outside().length;
  const r = await page.evaluate(async () => {
    const violations = [];
    document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
    let fetched = true;
    try { await fetch('https://example.com/collect?x=1'); } catch { fetched = false; }
    await new Promise((res) => setTimeout(res, 200));
    return { fetched, violations };
  });
  assert.equal(r.fetched, false, 'a third-party fetch succeeded');
  assert.ok(r.violations.includes('connect-src'), `no connect-src violation: ${JSON.stringify(r.violations)}`);
  assert.equal(seen, 0);
});
