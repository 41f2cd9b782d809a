// The FMA builds (app-mt-fma.*, and app-fma.* when built: the kernels' multiply-adds as relaxed
// SIMD's f32x4.relaxed_madd) in headless Chromium, which has relaxed SIMD:
//   - cross-origin isolated, the loader starts app-mt-fma.js and the app runs the "simd-fma" set;
//     the astronaut's face gets the classes of the plain build (?fma=0: app-mt.js, "simd") with
//     probabilities within FMA's rounding, and its saliency map equals the native CLI's;
//   - without isolation it starts app-fma.js, with the same probabilities as app-mt-fma.js, or,
//     in a site built without it (CNNLENS_FMA_SINGLE_THREADED_APP off), app.js, without errors;
//   - without isolation and with ?fma=0, app.js (what browsers without relaxed SIMD run), whose
//     saliency map equals the native CLI's.
// Environment: CNNLENS_SITE (default build/wasm/site), CNNLENS_CLI (default
// build/native-release/cli/cnnlens), CHROMIUM (default /usr/bin/chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, cli, dropOnCanvas, launchChromium, openPage, readNpy, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const astronaut = fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg'));
const model = path.join(root, 'models/fer2013-mini-xception');

let browser, isolatedServer, plainServer;
let fma;  // what the isolated FMA page gave: {faces, saliency}

// Opens the page at `query` from `server`, drops the astronaut photo, and returns the build that
// runs, its kernel set, the faces and the saliency map of the selected face.
async function run(server, query, name) {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const { page, outside, pageErrors } = await openPage(browser, origin);
  try {
    await page.goto(`${origin}/${query}`);
    await waitReady(page);
    await dropOnCanvas(page, [[astronaut, 'astronaut.jpg', 'image/jpeg']]);
    await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
    const r = await page.evaluate(async () => {
      const t = window.cnnlensTest;
      const map = await t.explain('saliency');
      return { script: t.buildScript, build: t.build, kernels: t.benchForward(1, 1, 1).kernels,
        faces: t.faces(), saliency: { ...map, values: Array.from(map.values) },
        crop: Array.from(t.faceCropPng()), error: t.error() };
    });
    await page.screenshot({ path: path.join(artifacts, `fma-${name}.png`) });
    assert.equal(r.error, '');
    assert.deepEqual(outside, []);
    assert.deepEqual(pageErrors, []);
    return r;
  } finally {
    await page.context().close();
  }
}

// max |a - b| over max |b|.
function relDiff(a, b) {
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < b.length; ++i) {
    maxRef = Math.max(maxRef, Math.abs(b[i]));
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  assert.ok(maxRef > 0, 'the reference is all zeros');
  return maxDiff / maxRef;
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app-mt-fma.wasm')), `no FMA build in ${site}: build the wasm preset first`);
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

const singleFma = fs.existsSync(path.join(site, 'app-fma.wasm'));

test("the FMA builds keep the plain ones' size budgets (app-fma.wasm 3.45 MB, app-mt-fma.wasm 3 MB); fma-builds.json lists them", () => {
  const listed = JSON.parse(fs.readFileSync(path.join(site, 'fma-builds.json'), 'utf8'));
  assert.deepEqual(Object.keys(listed).sort(), singleFma ? ['app-mt.js', 'app.js'] : ['app-mt.js']);
  for (const files of Object.values(listed)) for (const f of files) assert.ok(fs.existsSync(path.join(site, f)), f);
  for (const [file, budget] of [['app-fma.wasm', 3.45e6], ['app-mt-fma.wasm', 3e6]]) {
    if (file === 'app-fma.wasm' && !singleFma) continue;
    const bytes = fs.statSync(path.join(site, file)).size;
    console.log(`# ${file} ${(bytes / 1e6).toFixed(3)} MB`);
    assert.ok(bytes < budget, `${file} is ${bytes} bytes`);
  }
  assert.ok(fs.existsSync(path.join(site, 'app-mt-fma.worker.js')));
});

test('isolated, Chromium runs app-mt-fma.js with the simd-fma kernels; saliency equals the native CLI', async () => {
  fma = await run(isolatedServer, '', 'mt');
  assert.deepEqual([fma.script, fma.build, fma.kernels], ['./app-mt-fma.js', 'mt', 'simd-fma']);
  assert.equal(fma.faces.length, 1);
  assert.equal(fma.faces[0].top, 'happy');
  const crop = path.join(artifacts, 'fma_face_crop.png');
  fs.writeFileSync(crop, Buffer.from(fma.crop));
  const out = path.join(artifacts, 'fma-cli');
  execFileSync(cli, ['explain', '--model', model, '--method', 'saliency', '--out', out, crop], { stdio: 'pipe' });
  const ref = readNpy(path.join(out, 'fma_face_crop_saliency.npy'));
  assert.deepEqual(ref.shape.slice(-2), [fma.saliency.height, fma.saliency.width]);
  const d = relDiff(fma.saliency.values, ref.values);
  console.log(`# saliency: max |app-mt-fma - native CLI| = ${d.toExponential(2)} of max |map|`);
  assert.ok(d <= 1e-3, `${d}`);
});

test('?fma=0 runs app-mt.js (simd) with the same classes, within FMA rounding', async () => {
  const plain = await run(isolatedServer, '?fma=0', 'mt-plain');
  assert.deepEqual([plain.script, plain.build, plain.kernels], ['./app-mt.js', 'mt', 'simd']);
  assert.deepEqual(plain.faces.map((f) => f.top), fma.faces.map((f) => f.top));
  const dp = Math.max(...plain.faces[0].probs.map((p, i) => Math.abs(p - fma.faces[0].probs[i])));
  const ds = relDiff(fma.saliency.values, plain.saliency.values);
  console.log(`# FMA against mul + add: max |Δp| = ${dp.toExponential(2)}, saliency ${ds.toExponential(2)} of max |map|`);
  assert.ok(dp <= 1e-5, `probabilities differ by ${dp}`);
  assert.ok(ds <= 1e-4, `saliency maps differ by ${ds} of their maximum`);
});

test(`not isolated, Chromium runs ${singleFma ? 'app-fma.js' : 'app.js (no app-fma.js in the site)'} with the same probabilities`, async () => {
  const st = await run(plainServer, '', 'st');
  assert.deepEqual([st.script, st.build, st.kernels], singleFma ? ['./app-fma.js', 'st', 'simd-fma'] : ['./app.js', 'st', 'simd']);
  const tol = singleFma ? 1e-6 : 1e-5;
  for (let i = 0; i < 7; ++i) assert.ok(Math.abs(st.faces[0].probs[i] - fma.faces[0].probs[i]) < tol, `probability ${i}`);
});

// app.js is what browsers without relaxed SIMD run on a page without isolation; with app-fma.js
// in the site, the other suites' single-threaded pages run that instead, so this keeps app.js
// checked: it loads, runs the plain kernels, and classifies and explains as the native CLI does.
test('not isolated, ?fma=0 runs app.js (simd) with the classes of app-fma.js and the saliency of the native CLI', { skip: !singleFma && 'the other test runs app.js' }, async () => {
  const st = await run(plainServer, '?fma=0', 'st-plain');
  assert.deepEqual([st.script, st.build, st.kernels], ['./app.js', 'st', 'simd']);
  assert.deepEqual(st.faces.map((f) => f.top), fma.faces.map((f) => f.top));
  const dp = Math.max(...st.faces[0].probs.map((p, i) => Math.abs(p - fma.faces[0].probs[i])));
  assert.ok(dp <= 1e-5, `probabilities differ by ${dp}`);
  const crop = path.join(artifacts, 'fma_st_plain_crop.png');
  fs.writeFileSync(crop, Buffer.from(st.crop));
  const out = path.join(artifacts, 'fma-cli-st-plain');
  execFileSync(cli, ['explain', '--model', model, '--method', 'saliency', '--out', out, crop], { stdio: 'pipe' });
  const ref = readNpy(path.join(out, 'fma_st_plain_crop_saliency.npy'));
  const d = relDiff(st.saliency.values, ref.values);
  console.log(`# saliency: max |app.js - native CLI| = ${d.toExponential(2)} of max |map|`);
  assert.ok(d <= 1e-5, `${d}`);
});
