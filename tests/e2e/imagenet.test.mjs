// A large torchvision model in the browser, in both builds (threaded: served with COOP/COEP;
// sliced: without): ResNet-18 (46 MB, seeded random weights, exported at test time by
// make_torchvision_onnx.py into build/e2e-models) is dropped on the page as a user drops a file,
// the page shows reading progress, the model waits in the input dialog with the ImageNet preset
// proposed and is installed; a dropped photo is then seen whole (no face detector) and
// classified with ImageNet's names. The page's top 5 must be the native CLI's
// (cnnlens predict --json) and its saliency map the CLI's (cnnlens explain --method saliency).
// Also: a model larger than the page can hold is refused with a message naming the sizes, and
// the model in use stays.
// Environment as in app.test.mjs (CNNLENS_SITE, CNNLENS_CLI, CHROMIUM); CNNLENS_PYTHON: the
// Python with torch and torchvision (default /usr/bin/python3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, cli, launchChromium, openPage, readNpy, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const modelFile = path.join(root, 'build/e2e-models/resnet18.onnx');
const photoFile = path.join(root, 'tests/data/astronaut.jpg');
let browser;
const servers = [];
const cliTop5 = {};
let cliSaliency;

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  if (!fs.existsSync(modelFile)) {
    execFileSync(process.env.CNNLENS_PYTHON || '/usr/bin/python3',
      [path.join(root, 'tests/e2e/make_torchvision_onnx.py'), modelFile, 'resnet18'], { stdio: 'inherit' });
  }
  const p = JSON.parse(execFileSync(cli, ['predict', '--json', '--model', modelFile, photoFile], { encoding: 'utf8' }));
  assert.equal(p.task, 'image');
  Object.assign(cliTop5, { top: p.images[0].top_k, probs: p.images[0].probabilities, classes: p.classes });
  assert.equal(cliTop5.top.length, 5);
  const out = path.join(artifacts, 'imagenet-cli');
  execFileSync(cli, ['explain', '--model', modelFile, '--method', 'saliency', '--out', out, photoFile], { stdio: 'pipe' });
  cliSaliency = readNpy(path.join(out, 'astronaut_saliency.npy'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

// Drops `name` (served by the test at /e2e-drop/NAME from `bytes`) on the canvas: the page
// fetches it into a File, as a dragged file arrives, without passing 46 MB through the
// test protocol.
async function dropServed(page, bytes, name, type) {
  await page.route(`**/e2e-drop/${name}`, (route) => route.fulfill({ status: 200, body: bytes,
    headers: { 'Content-Type': type, 'Cross-Origin-Resource-Policy': 'same-origin' } }));
  await page.evaluate(async ([n, t]) => {
    const blob = await (await fetch(`/e2e-drop/${n}`)).blob();
    const dt = new DataTransfer();
    dt.items.add(new File([blob], n, { type: t }));
    const c = document.getElementById('canvas');
    c.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    c.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, [name, type]);
}

const hook = (page, fn, arg) => page.evaluate(fn, arg);
const panels = (page, c) => hook(page, (x) => window.cnnlensTest.panels(x), c);
const idle = (page) => page.waitForFunction(() => window.cnnlensTest.idle().then(() => true), null, { timeout: 180000 });

for (const isolate of [true, false]) {
  const build = isolate ? 'mt' : 'st';
  test(`${build}: a dropped ResNet-18 ONNX classifies a whole photo as the CLI does`, { timeout: 600000 }, async () => {
    const server = await serve(site, { isolate });
    servers.push(server);
    const origin = `http://127.0.0.1:${server.address().port}`;
    const { page, outside, pageErrors } = await openPage(browser, origin);
    await page.goto(`${origin}/`);
    await waitReady(page);
    assert.equal(await hook(page, () => window.cnnlensTest.build), build);
    const s0 = await panels(page, 'state');

    // Too large for what the page can still get: refused before anything is allocated.
    const tooBig = await hook(page, () => window.cnnlensTest.memoryAvailable());
    await page.evaluate((n) => {  // a file that claims the size: the app refuses it from its size alone
      const huge = { name: 'huge.onnx', size: n, stream: () => new Blob([]).stream() };
      const e = new Event('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(e, 'dataTransfer', { value: { files: [huge] } });
      document.getElementById('canvas').dispatchEvent(e);
    }, Math.ceil(tooBig) + 1);
    await page.waitForFunction(() => window.cnnlensTest.error().includes('huge.onnx'));
    const err = await hook(page, () => window.cnnlensTest.error());
    assert.match(err, /huge\.onnx needs [0-9.]+ MB .* but the page can get only [0-9.]+ MB more memory; the current model stays/);
    assert.equal((await panels(page, 'state')).modelVersion, s0.modelVersion);

    // The model: reading progress in the status line, then the input dialog proposing ImageNet.
    const statuses = [];
    await page.exposeFunction('noteStatus', (t) => statuses.push(t));
    await page.evaluate(() => new MutationObserver(() => window.noteStatus(document.getElementById('status').textContent))
      .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true }));
    await dropServed(page, fs.readFileSync(modelFile), 'resnet18.onnx', 'application/octet-stream');
    await page.waitForFunction(() => !window.cnnlensTest.filesWaiting() && window.cnnlensTest.panels('state').modelPending,
      null, { timeout: 120000 });
    assert.ok(statuses.some((t) => /^Reading resnet18\.onnx: [0-9.]+ of 46\.[0-9] MB$/.test(t)), statuses.join(' | '));
    const pending = await panels(page, 'state');
    assert.equal(pending.pendingPreset, 'imagenet');
    await page.screenshot({ path: path.join(artifacts, `imagenet-${build}-dialog.png`) });
    assert.deepEqual(await panels(page, 'confirm'), {});
    const s1 = await panels(page, 'state');
    assert.equal(s1.modelVersion, s0.modelVersion + 1);
    assert.equal(s1.classes, 1000);
    assert.equal(s1.task, 'image');

    // The photo: seen whole, top 5 as the CLI's.
    await dropServed(page, fs.readFileSync(photoFile), 'astronaut.jpg', 'image/jpeg');
    await idle(page);
    const faces = await hook(page, () => window.cnnlensTest.faces());
    assert.equal(faces.length, 1);
    assert.equal(faces[0].wholePhoto, true);
    const probs = faces[0].probs;
    assert.equal(probs.length, 1000);
    const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 5);
    const cli5 = cliTop5.top.map((t) => t.index);
    const page5 = order.map(([, i]) => i);
    // Equal lists; only classes whose probabilities differ by less than float noise may swap.
    for (let r = 0; r < 5; ++r) {
      if (page5[r] === cli5[r]) continue;
      const gap = Math.abs(cliTop5.probs[page5[r]] - cliTop5.probs[cli5[r]]);
      assert.ok(gap < 1e-6, `rank ${r + 1}: page ${page5[r]} vs CLI ${cli5[r]} (gap ${gap})`);
    }
    assert.equal(faces[0].top, cliTop5.top[0].class);
    for (const t of cliTop5.top) assert.ok(Math.abs(probs[t.index] - t.probability) <= 1e-4 * Math.max(t.probability, 1e-3),
      `class ${t.index}: page ${probs[t.index]} vs CLI ${t.probability}`);
    // Saliency: the CLI's map.
    const map = await page.evaluate(async () => {
      const r = await window.cnnlensTest.explain('saliency');
      return { ...r, values: Array.from(r.values) };
    });
    assert.deepEqual(cliSaliency.shape.slice(-2), [map.height, map.width]);
    assert.equal(map.width, 224);
    let maxRef = 0, maxDiff = 0;
    for (let i = 0; i < cliSaliency.values.length; ++i) {
      maxRef = Math.max(maxRef, Math.abs(cliSaliency.values[i]));
      maxDiff = Math.max(maxDiff, Math.abs(cliSaliency.values[i] - map.values[i]));
    }
    assert.ok(maxRef > 0, 'the CLI map is all zeros');
    assert.ok(maxDiff <= 1e-3 * maxRef, `saliency: max |page - CLI| = ${maxDiff} > 1e-3 * ${maxRef}`);
    await page.screenshot({ path: path.join(artifacts, `imagenet-${build}-saliency.png`) });
    // The class grid shows the 8 most probable classes, best first.
    await panels(page, 'tab grid');
    await page.waitForFunction(() => window.cnnlensTest.panels('grid').classes.length > 0, null, { timeout: 60000 });
    const top8 = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 8).map(([, i]) => i);
    assert.deepEqual((await panels(page, 'grid')).classes, top8);

    assert.deepEqual(outside, []);
    assert.deepEqual(pageErrors.filter((e) => !e.includes('huge.onnx')), []);
    await page.context().close();
  });
}
