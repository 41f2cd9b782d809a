// The Trust section in headless Chromium, against the native CLI: the page opens the astronaut
// photo, explains its face with saliency and Grad-CAM, opens the Trust section and waits for
// its scores, then asks for the slow ones and the randomization check; `cnnlens evaluate
// --photo` on the page's face crop must give the same numbers, and the randomization strip has
// the original plus one step per randomizable layer (Conv2D, depthwise, MatMul), top down.
// Runs the single-threaded build (sliced jobs), and the threaded one when it was built (served
// cross-origin isolated); logs the section's time in each.
// Environment as in app.test.mjs (CNNLENS_SITE, CNNLENS_CLI, CHROMIUM).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, cli, dropOnCanvas, launchChromium, openPage, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const model = path.join(root, 'models/fer2013-mini-xception');
const methods = ['saliency', 'gradcam'];

// How close the page's scores must be to the CLI's. Both run the same float32 code on the same
// crop; the wasm kernels (SIMD128) and the native ones (AVX2, XNNPACK) sum in different orders.
// Measured: at most 2e-7 relative over the 11 scores of both methods (faithfulness correlation
// of saliency; the ranked ones, deletion, insertion and ROAD, at most 1e-7: no pixel changed
// its rank). 1e-5 leaves a margin of 50 for other machines' kernels, while a changed seed,
// baseline or step count moves a score by 1e-3 and more.
const kRelative = 1e-5;

let browser;
const servers = [];

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  assert.ok(fs.existsSync(cli), `native CLI ${cli} not built (cmake --build --preset native-release)`);
  fs.mkdirSync(artifacts, { recursive: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const s of servers) s.close();
});

// Resolves with the section's state once `done(state)` holds (polled every 100 ms).
async function waitTrust(page, done, timeout) {
  const t0 = Date.now();
  for (;;) {
    const t = await page.evaluate(() => window.cnnlensTest.trust());
    assert.equal(t.error, '', `Trust section error: ${t.error}`);
    if (done(t)) return t;
    assert.ok(Date.now() - t0 < timeout, `Trust section not done after ${timeout} ms: ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function compare(method, page, ref) {
  for (const [metric, want] of Object.entries(ref)) {
    const got = page[metric];
    assert.ok(metric in page, `${method}: the page has no ${metric}`);
    if (want === null) {
      assert.equal(got, null, `${method} ${metric}: the CLI's is undefined, the page's ${got}`);
      continue;
    }
    const diff = Math.abs(got - want);
    const ok = diff <= kRelative * Math.max(Math.abs(want), 1e-2);
    console.log(`# ${method} ${metric}: page ${got}, CLI ${want}, |diff| ${diff.toExponential(2)}`);
    assert.ok(ok, `${method} ${metric}: page ${got}, CLI ${want}`);
  }
}

// The page of one build with the astronaut's face, its crop saved for the CLI.
async function openBuild(isolate, build) {
  const server = await serve(site, { isolate });
  servers.push(server);
  const origin = `http://127.0.0.1:${server.address().port}`;
  const { page, pageErrors } = await openPage(browser, origin);
  await page.goto(`${origin}/`);
  await waitReady(page);
  assert.equal(await page.evaluate(() => window.cnnlensTest.build), build);
  await dropOnCanvas(page, [[fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'astronaut.jpg', 'image/jpeg']]);
  await page.waitForFunction(() => !window.cnnlensTest.filesWaiting() && window.cnnlensTest.faces().length === 1);
  await page.evaluate(() => window.cnnlensTest.idle());
  const png = await page.evaluate(() => Array.from(window.cnnlensTest.faceCropPng()));
  const crop = path.join(artifacts, `trust_face_crop_${build}.png`);
  fs.writeFileSync(crop, Buffer.from(png));
  return { page, pageErrors, crop };
}

// The CLI's scores of every metric for `methods` on the crop: {method: {metric: mean}}.
function cliScores(crop, build) {
  const out = path.join(artifacts, `trust_evaluate_${build}.json`);
  const all = 'sparseness,complexity,deletion_auc,insertion_auc,faithfulness_correlation,infidelity,road_morf,road_lerf,' +
    'random_logit,max_sensitivity,avg_sensitivity';
  execFileSync(cli, ['evaluate', '--model', model, '--photo', crop, '--methods', methods.join(','), '--metrics', all,
    '--json', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  const table = JSON.parse(fs.readFileSync(out, 'utf8')).table;
  const ref = {};
  for (const c of table) {
    assert.equal(c.count + c.nan, 1, `one face: ${JSON.stringify(c)}`);
    (ref[c.method] ??= {})[c.metric] = c.nan ? null : c.mean;
  }
  return ref;
}

// Ops whose weights the randomization check replaces (core/eval/sanity.h), by the layer list.
function randomizableNodes(layers) {
  return layers.filter((l) => /^(Conv2D|DepthwiseConv|MatMul)/.test(l.op)).map((l) => l.node).sort((a, b) => b - a);
}

for (const [build, isolate, file] of [['st', false, 'app.wasm'], ['mt', true, 'app-mt.wasm']]) {
  test(`the Trust section's scores equal cnnlens evaluate (${build} build)`, { skip: !fs.existsSync(path.join(site, file)) && `${file} not built` }, async () => {
    const { page, pageErrors, crop } = await openBuild(isolate, build);
    const ref = cliScores(crop, build);
    const nodes = randomizableNodes(await page.evaluate(() => window.cnnlensTest.layers()));
    assert.ok(nodes.length >= 10, `randomizable layers: ${nodes}`);
    for (const method of methods) {
      // Closed while the map is computed, so the time below is the section's alone.
      await page.evaluate(() => window.cnnlensTest.trust('close'));
      await page.evaluate((m) => window.cnnlensTest.explain(m), method);
      let t0 = Date.now();
      let t = await page.evaluate(() => window.cnnlensTest.trust('open'));
      assert.equal(t.open, true);
      assert.equal(t.method, method);
      // The free scores at once.
      assert.ok('sparseness' in t.scores && 'complexity' in t.scores, JSON.stringify(t.scores));
      t = await waitTrust(page, (s) => s.complete && s.method === method, 60000);
      const auto = Date.now() - t0;
      assert.equal(t.curves.points, 33);
      assert.ok(t.curves.deletionRandom > 0 && t.curves.insertionRandom > 0, JSON.stringify(t.curves));
      assert.ok(!('faithfulness_correlation' in t.scores), 'slow scores are computed only when asked');
      assert.equal(t.sanity.length, 0);
      await page.screenshot({ path: path.join(artifacts, `trust-${build}-${method}.png`) });

      t0 = Date.now();
      await page.evaluate(() => window.cnnlensTest.trust('slow'));
      t = await waitTrust(page, (s) => s.complete && s.slow, 240000);
      const slow = Date.now() - t0;
      console.log(`# ${build} ${method}: Trust section ${auto} ms (free, deletion/insertion with random order, ROAD), ` +
        `slow scores and randomization check ${slow} ms more`);
      assert.equal(Object.keys(t.scores).length, 11, JSON.stringify(t.scores));
      compare(method, t.scores, ref[method]);
      // The strip: the original first (Spearman 1 with itself), then one step per layer, top down.
      assert.equal(t.sanity.length, nodes.length + 1, JSON.stringify(t.sanity.map((s) => s.layer)));
      assert.equal(t.sanity[0].node, -1);
      assert.ok(Math.abs(t.sanity[0].spearman - 1) < 1e-9, `step 0 Spearman ${t.sanity[0].spearman}`);
      assert.deepEqual(t.sanity.slice(1).map((s) => s.node), nodes);
      assert.ok(t.sanity.slice(1).every((s) => s.layer.length > 0));
      // The maps dissolve as the model is destroyed (Adebayo et al.; tests/eval checks it over faces).
      assert.ok(t.sanity[t.sanity.length - 1].spearman < 0.9, `last step Spearman ${t.sanity[t.sanity.length - 1].spearman}`);
      await page.screenshot({ path: path.join(artifacts, `trust-${build}-${method}-slow.png`) });
    }
    // Cancel stops the section until asked again; a new explanation starts over.
    await page.evaluate(() => window.cnnlensTest.explain('saliency'));
    await page.evaluate(() => { window.cnnlensTest.trust('open'); window.cnnlensTest.trust('slow'); window.cnnlensTest.trust('cancel'); });
    const stopped = await waitTrust(page, (s) => !s.busy, 30000);
    assert.equal(stopped.stopped, true);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
}
