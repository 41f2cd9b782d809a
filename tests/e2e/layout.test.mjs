// The layout at three sizes, in the threaded build (served cross-origin isolated): a 1280x800 and
// a 1920x1080 window and a 390x844 phone at devicePixelRatio 3. At each, the example photo is
// opened and every view is visited (Explain with a method run, All classes, Two methods, Inside
// the network with feature maps and filter pictures, Confusion matrix with a labeled CSV, Model,
// Report (its settings, not run));
// each must draw no text wider than the space it had and no item out of view (the app's layout
// trace: wasm/app/layout_trace.h), and each map group must fill at least 60 % of its region
// along the limiting dimension. At 1280x800 a click on the Explain map zooms it and Escape
// closes the zoom. Screenshots go to build/e2e-artifacts/layout-*.png.
// Environment as in app.test.mjs (CNNLENS_SITE, CHROMIUM).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, dropOnCanvas, launchChromium, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const courseCsv = path.join(root, 'tests/data/eval/course_10.csv');
const kSizes = [
  { name: '1280x800', viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 },
  { name: '1920x1080', viewport: { width: 1920, height: 1080 }, deviceScaleFactor: 1 },
  { name: 'phone', viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true },
];
// How much of its region a map group must fill along the dimension that limits it.
const kMinFill = 0.6;

let server, browser, origin;

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app-mt.wasm')), `no threaded build in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  server = await serve(site, { isolate: true });
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  server?.close();
});

// One page at one size and the helpers the checks use.
async function openAt(size) {
  const { name, ...options } = size;
  const context = await browser.newContext({ ...options, serviceWorkers: 'block' });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.goto(`${origin}/`);
  await waitReady(page);
  const hook = (fn, arg) => page.evaluate(fn, arg);
  const panels = (command) => hook((c) => window.cnnlensTest.panels(c), command);
  const frames = async (n) => {
    const f0 = await hook(() => window.cnnlensTest.frames());
    await page.waitForFunction(([f, k]) => window.cnnlensTest.frames() > f + k, [f0, n]);
  };
  const idle = async () => {
    await frames(2);
    await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true), null, { timeout: 120000 });
    await page.waitForFunction(() => window.cnnlensTest.panelsIdle().then(() => true), null, { timeout: 120000 });
    await frames(3);  // the last result's textures drawn, and the trace of whole frames
  };
  const shot = (what) => page.screenshot({ path: path.join(artifacts, `layout-${name}-${what}.png`) });
  // The trace of the last two frames: nothing clipped, and `maps` (panel names) each filling its
  // region.
  const check = async (what, maps = []) => {
    const l = await hook(() => window.cnnlensTest.layout(2));
    assert.deepEqual(l.clipped, [], `${name} ${what}: text or items cut off: ${JSON.stringify(l.clipped)}`);
    for (const panel of maps) {
      const m = l.maps.find((x) => x.panel === panel);
      assert.ok(m, `${name} ${what}: map '${panel}' drawn (traced: ${l.maps.map((x) => x.panel)})`);
      const fill = Math.max(m.rect[2] / m.region[0], m.rect[3] / m.region[1]);
      assert.ok(fill >= kMinFill, `${name} ${what}: map '${panel}' fills ${fill.toFixed(2)} of its region: ${JSON.stringify(m)}`);
    }
    return l;
  };
  return { context, page, pageErrors, hook, panels, frames, idle, shot, check };
}

for (const size of kSizes) {
  test(`layout at ${size.name}: every view fits, maps fill their panels`, async () => {
    const p = await openAt(size);
    try {
      const { page, hook, panels, idle, shot, check, frames } = p;
      // The toolbar's "Try an example".
      await hook(() => window.cnnlensPlatform.openExample('examples/astronaut.jpg'));
      await page.waitForFunction(() => window.cnnlensTest.faces().length > 0, null, { timeout: 60000 });
      await idle();
      assert.equal((await hook(() => window.cnnlensTest.faces())).length, 1);
      await shot('0-photo');
      await check('photo');

      await hook(() => window.cnnlensTest.explain('gradcam'));
      await idle();
      await shot('1-explain');
      const explain = await check('explain', ['explain']);

      await panels('tab grid');
      await idle();
      assert.equal((await panels('grid')).done, 7);
      await shot('2-grid');
      await check('all classes', ['grid']);

      await panels('tab compare');
      await idle();
      await shot('3-compare');
      await check('two methods', ['compare']);

      const layers = await hook(() => window.cnnlensTest.layers());
      const conv = layers.filter((l) => l.shape.length === 4 && l.shape[1] > 1 && l.op === 'Conv2D').at(-1);
      await panels(`layer ${conv.node}`);
      await panels('filters 3 8');
      await idle();
      await panels('channel 1');
      await idle();
      await shot('4-inside');
      await check('inside the network', ['feature maps', 'filter pictures', 'channel']);

      await dropOnCanvas(page, [[fs.readFileSync(courseCsv), 'course_10.csv', 'text/csv']]);
      await frames(3);
      await idle();
      assert.equal((await hook(() => window.cnnlensTest.confusion())).done, 10);
      await panels('tab confusion');
      await idle();
      await shot('5-confusion');
      await check('confusion matrix');

      await panels('tab model');
      await idle();
      await shot('6-model');
      await check('model');

      await panels('tab report');
      await idle();
      await shot('6b-report');
      await check('report');

      if (size.name === '1280x800') {  // a click zooms the Explain map, Escape closes it
        await panels('tab explain');
        await idle();
        const m = explain.maps.find((x) => x.panel === 'explain overlay');
        assert.ok(m, 'the overlay itself is traced');
        const [x, y, w, h] = m.rect;
        const dpr = size.deviceScaleFactor;
        await page.mouse.move((x + w / 2) / dpr, (y + h / 2) / dpr);
        await frames(2);
        await page.mouse.down();
        await frames(2);
        await page.mouse.up();
        await frames(3);
        let l = await hook(() => window.cnnlensTest.layout(2));
        assert.ok(l.zoom.open, 'a click on the map opens the zoom');
        const view = [size.viewport.width * dpr, size.viewport.height * dpr];
        assert.ok(Math.max(l.zoom.rect[2] / view[0], l.zoom.rect[3] / view[1]) > 0.8, `the zoomed map fills the page: ${l.zoom.rect}`);
        await shot('7-zoom');
        assert.deepEqual(l.clipped, []);
        await page.keyboard.press('Escape');
        await frames(3);
        l = await hook(() => window.cnnlensTest.layout(2));
        assert.ok(!l.zoom.open, 'Escape closes the zoom');
      }
      assert.equal(await hook(() => window.cnnlensTest.error()), '');
      assert.deepEqual(p.pageErrors, []);
    } finally {
      await p.context.close();
    }
  });
}
