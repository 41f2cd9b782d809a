// End-to-end tests of the extra panels in headless Chromium: the seven-class grid, two methods
// side by side, the method card and the Help menu, the layer browser with feature maps and filter pictures, the confusion matrix of
// a dropped labeled CSV (compared with the native CLI), a bad CSV, and a dropped own model.
// Environment as in app.test.mjs (CNNLENS_SITE, CNNLENS_CLI, CHROMIUM); screenshots go to
// build/e2e-artifacts/panels-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, cli, dropOnCanvas, launchChromium, openPage, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const model = path.join(root, 'models/fer2013-mini-xception');
const courseCsv = path.join(root, 'tests/data/eval/course_10.csv');

let server, browser, page, origin;
let outside = [];  // requests that left the local server
let pageErrors = [];

// Drops files together (one DataTransfer), as a user dragging a selection onto the page.
async function dropFiles(files) {
  await dropOnCanvas(page, files);
  await frames(3);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
}

const hook = (fn, arg) => page.evaluate(fn, arg);
const panels = (command) => hook((c) => window.cnnlensTest.panels(c), command);
const frames = async (n) => {
  const f0 = await hook(() => window.cnnlensTest.frames());
  await page.waitForFunction(([f, k]) => window.cnnlensTest.frames() > f + k, [f0, n]);
};
async function panelsIdle() {
  await frames(2);
  await page.waitForFunction(() => window.cnnlensTest.panelsIdle().then(() => true), null, { timeout: 120000 });
  await frames(2);  // textures of the last result drawn
}
async function showTab(name) {
  await panels(`tab ${name}`);
  await frames(2);
}
const screenshot = (name) => page.screenshot({ path: path.join(artifacts, `panels-${name}.png`) });

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  server = await serve(site);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
  ({ page, outside, pageErrors } = await openPage(browser, origin));
  await page.goto(`${origin}/`);
  await waitReady(page);
  await dropFiles([[fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'astronaut.jpg', 'image/jpeg']]);
  const faces = await hook(() => window.cnnlensTest.faces());
  assert.equal(faces.length, 1);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('seven-class grid: one saliency map per class', async () => {
  await showTab('grid');
  await panelsIdle();
  const g = await panels('grid');
  assert.equal(g.method, 'saliency');
  assert.equal(g.done, 7);
  assert.ok(g.maxAbs.every((m) => m > 0), `every class map is non-zero: ${g.maxAbs}`);
  assert.equal(new Set(g.maxAbs).size, 7, 'the seven maps differ');
  await screenshot('1-grid');
});

test('two methods side by side', async () => {
  await showTab('compare');
  await panelsIdle();
  assert.equal(await hook(() => window.cnnlensTest.error()), '');
  await screenshot('2-compare');
});

// A click where the hook says an item is (framebuffer pixels; the canvas fills the page at CSS
// size x devicePixelRatio): move, press and release a few frames apart, as ImGui reads them.
async function clickItem([x, y, w, h]) {
  const dpr = await hook(() => window.devicePixelRatio);
  const at = { x: (x + w / 2) / dpr, y: (y + h / 2) / dpr };
  const box = await page.locator('#canvas').boundingBox();
  await page.mouse.move(box.x + at.x, box.y + at.y);
  await frames(2);
  await page.mouse.down();
  await frames(2);
  await page.mouse.up();
  await frames(3);
}

// The card and the Help menu's list read the same definitions as `cnnlens explain --help` and
// `cnnlens methods`.
test('help: "?" opens the method card; the Help menu lists every method', async () => {
  await showTab('explain');
  let h = await panels('help');
  assert.ok(h.cardButton[2] > 0 && h.cardButton[3] > 0, `the "?" beside the method list was drawn: ${h.cardButton}`);
  assert.equal(h.open, '', 'no card open yet');
  await clickItem(h.cardButton);
  h = await panels('help');
  assert.ok(h.open, 'a click on "?" opens a card');
  assert.equal(h.card.method, h.open, 'the card drawn is the one opened');
  assert.ok(h.card.frame > 0 && h.frame - h.card.frame <= 2, `the card is drawn every frame (frame ${h.card.frame} of ${h.frame})`);
  const help = execFileSync(cli, ['explain', '--method', h.open, '--help'], { encoding: 'utf8' });
  const section = (text, name) => {
    const m = text.match(new RegExp(`\\n${name}\\n([\\s\\S]*?)\\n(\\n|$)`));
    return m ? m[1].replace(/\s+/g, ' ').trim() : null;
  };
  for (const name of ['What it computes', 'Reading the map', 'Paper', 'Defaults']) {
    assert.ok(section(help, name), `the CLI's help has '${name}'`);
    assert.equal(section(h.card.text, name), section(help, name), `'${name}' in the page and the CLI`);
  }
  await screenshot('2b-method-card');

  await clickItem(h.menu);
  h = await panels('help');
  assert.ok(h.frame - h.menuFrame <= 2, `a click on Help opens the menu (drawn at frame ${h.menuFrame} of ${h.frame})`);
  const titles = execFileSync(cli, ['methods'], { encoding: 'utf8' }).split('\n')
    .filter((l) => /^\S/.test(l) && !l.startsWith('cnnlens')).map((l) => l.replace(/^\S+\s+/, ''));
  assert.ok(titles.length > 20, `${titles.length} methods`);
  assert.deepEqual(h.menuMethods, titles, 'the Help menu lists every method, in order');
  await screenshot('2c-help-menu');
  await clickItem(h.menu);  // closes it again
  await panels('help close');
  await frames(2);
  assert.equal((await panels('help')).open, '');
});

test('layer browser: layers with shapes, feature maps and filter pictures', async () => {
  const layers = await hook(() => window.cnnlensTest.layers());
  assert.ok(layers.length > 10, `${layers.length} layers`);
  for (const l of layers) assert.ok(l.name && l.op && l.shape.length >= 2, JSON.stringify(l));
  // The last spatial conv layer larger than 1x1.
  const conv = layers.filter((l) => l.shape.length === 4 && l.shape[1] > 1 && l.op === 'Conv2D').at(-1);
  assert.ok(conv, 'a spatial Conv2D layer');
  await panels(`layer ${conv.node}`);
  await panelsIdle();
  let inside = await hook(() => window.cnnlensTest.inside());
  assert.equal(inside.mapsLayer, conv.node);
  assert.deepEqual([inside.maps.height, inside.maps.width, inside.maps.channels], conv.shape.slice(1));
  await screenshot('3-feature-maps');

  const t0 = Date.now();
  await panels('filters 3 32');
  // The page keeps drawing while the pictures fill in (the ascent runs in slices between frames).
  const f0 = await hook(() => window.cnnlensTest.frames());
  await panelsIdle();
  const f1 = await hook(() => window.cnnlensTest.frames());
  const secs = (Date.now() - t0) / 1000;
  console.log(`# 3 filter pictures (32 steps) in ${(secs * 1000).toFixed(0)} ms, ${f1 - f0} frames`);
  inside = await hook(() => window.cnnlensTest.inside());
  assert.equal(inside.filterLayer, conv.node);
  assert.equal(inside.filters.length, 3);
  assert.ok((f1 - f0) / secs >= 5, `only ${((f1 - f0) / secs).toFixed(1)} frames/s while filter pictures ran`);
  for (const f of inside.filters) {
    assert.deepEqual(f.shape, [64, 64, 1]);
    assert.ok(f.final > f.start, `channel ${f.channel}: ascent raised the activation ${f.start} -> ${f.final}`);
  }
  await panels('channel 1');
  await frames(3);
  await screenshot('4-filters');
});

test('a labeled CSV gives the confusion matrix the CLI computes', async () => {
  assert.ok(fs.existsSync(cli), `native CLI ${cli} not built`);
  const ref = JSON.parse(execFileSync(cli, ['confusion', '--model', model, '--data', courseCsv, '--json'], { stdio: ['ignore', 'pipe', 'ignore'] }));
  await dropFiles([[fs.readFileSync(courseCsv), 'course_10.csv', 'text/csv']]);
  const c0 = await hook(() => window.cnnlensTest.confusion());
  assert.ok(c0.loaded);
  assert.equal(c0.total, 10);
  assert.equal(await hook(() => window.cnnlensTest.panels('state').tab), 'confusion', 'the Confusion tab comes forward');
  await panelsIdle();
  const c = await hook(() => window.cnnlensTest.confusion());
  assert.equal(c.done, 10);
  assert.deepEqual(c.matrix.counts, ref.counts);
  assert.deepEqual(c.matrix.cells, ref.cells);
  assert.equal(c.matrix.accuracy, ref.accuracy);
  assert.equal(await hook(() => window.cnnlensTest.error()), '');
  await screenshot('5-confusion');

  // A cell's gallery, then one of its faces becomes the face to explain.
  const [t, p] = [3, 3];
  assert.ok(ref.cells[t][p].length > 0);
  await panels(`cell ${t} ${p}`);
  await frames(3);
  await screenshot('6-confusion-cell');
  const opened = await panels(`open ${t} ${p} 0`);
  assert.equal(opened.opened, `row ${ref.cells[t][p][0] + 1}`);
  await frames(3);
  const faces = await hook(() => window.cnnlensTest.faces());
  assert.equal(faces.length, 1);
  assert.ok(faces[0].wholePhoto);
  assert.equal(faces[0].top, 'happy');
  const map = await hook(() => window.cnnlensTest.explain('saliency'));
  assert.equal(map.width * map.height, 64 * 64);
  await screenshot('7-dataset-face');
});

test('a bad CSV shows an error and the app keeps working', async () => {
  await dropFiles([[Buffer.from('label,feature\n3,1 2 3\n9,1 2 3 4\n'), 'bad.csv', 'text/csv']]);
  const error = await hook(() => window.cnnlensTest.error());
  assert.match(error, /bad\.csv/);
  console.log(`# error banner: ${error}`);
  await screenshot('8-bad-csv');
  const c = await hook(() => window.cnnlensTest.confusion());
  assert.equal(c.total, 10, 'the previous labeled set stays');
  assert.ok(c.matrix);
  const map = await hook(() => window.cnnlensTest.explain('gradcam'));
  assert.equal(map.method, 'gradcam');
});

test('own model: a missing shard is an error, model.json + shard asks for the input range', async () => {
  const json = fs.readFileSync(path.join(model, 'emotion.json'));
  const bin = fs.readFileSync(path.join(model, 'emotion.bin'));
  const s0 = await panels('state');
  await dropFiles([[json, 'emotion.json', 'application/json']]);
  assert.match(await hook(() => window.cnnlensTest.error()), /emotion\.bin/);
  await screenshot('9-model-missing-shard');
  assert.equal((await panels('state')).modelVersion, s0.modelVersion, 'the previous model stays');

  await dropFiles([[json, 'emotion.json', 'application/json'], [bin, 'emotion.bin', 'application/octet-stream'],
    [Buffer.from('angry\ndisgust\nfear\nhappy\nsad\nsurprise\nneutral\n'), 'classes.txt', 'text/plain']]);
  const s1 = await panels('state');
  assert.ok(s1.modelPending, 'the input dialog is open');
  assert.equal(s1.tab, 'model');
  await frames(3);
  await screenshot('10-model-dialog');
  assert.deepEqual(await panels('install 0 1'), {});
  await frames(3);
  const s2 = await panels('state');
  assert.equal(s2.modelVersion, s0.modelVersion + 1);
  assert.equal(s2.modelName, 'emotion.json');
  // The same network with the same range: the face is classified as before.
  const faces = await hook(() => window.cnnlensTest.faces());
  assert.equal(faces[0].top, 'happy');
  const layers = await hook(() => window.cnnlensTest.layers());
  assert.ok(layers.length > 10);
  await screenshot('11-own-model');
});

test('no request leaves the local server and the page logged no errors', () => {
  assert.deepEqual(outside, []);
  assert.deepEqual(pageErrors, []);
});
