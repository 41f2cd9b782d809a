// End-to-end test of the Report tab in headless Chromium: the report of the labeled set the
// Confusion tab holds (tests/data/eval/course_10.csv), built in the page with progress, Cancel and
// Resume, downloaded as one HTML file and as a ZIP, and compared item for item with the report
// `cnnlens report` writes natively from the same set, options and seed; then the report of the
// faces at hand. Environment as in app.test.mjs (CNNLENS_SITE, CNNLENS_CLI, CHROMIUM); the
// downloads and screenshots go to build/e2e-artifacts/report-*.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, cli, dropOnCanvas, launchChromium, openPage, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

const model = path.join(root, 'models/fer2013-mini-xception');
const courseCsv = 'tests/data/eval/course_10.csv';
// The report's options on both sides: few samples and ascent steps keep the page's build short.
const seed = 1, limeSamples = 100, smoothgradSamples = 10, steps = 16;
const cliOut = path.join(artifacts, 'report-cli');

let server, browser, page, origin;
let outside = [];
let pageErrors = [];

const hook = (fn, arg) => page.evaluate(fn, arg);
const panels = (command) => hook((c) => window.cnnlensTest.panels(c), command);
const frames = async (n) => {
  const f0 = await hook(() => window.cnnlensTest.frames());
  await page.waitForFunction(([f, k]) => window.cnnlensTest.frames() > f + k, [f0, n]);
};
const screenshot = (name) => page.screenshot({ path: path.join(artifacts, `report-${name}.png`) });

// The download a hook command starts (as the tab's button does), saved under artifacts.
async function download(command) {
  const [d] = await Promise.all([page.waitForEvent('download', { timeout: 30000 }), panels(command)]);
  const file = path.join(artifacts, `report-page-${d.suggestedFilename()}`);
  await d.saveAs(file);
  return { name: d.suggestedFilename(), file };
}

async function reportDone(timeout) {
  await page.waitForFunction(() => {
    const r = window.cnnlensTest.panels('report');
    return r.done || r.error !== '';
  }, null, { timeout, polling: 500 });
  const r = await panels('report');
  assert.equal(r.error, '');
  return r;
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  assert.ok(fs.existsSync(cli), `native CLI ${cli} not built`);
  fs.mkdirSync(artifacts, { recursive: true });
  fs.rmSync(cliOut, { recursive: true, force: true });
  server = await serve(site);
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
  ({ page, outside, pageErrors } = await openPage(browser, origin));
  await page.goto(`${origin}/`);
  await waitReady(page);
  await dropOnCanvas(page, [[fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'astronaut.jpg', 'image/jpeg']]);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => true));
});

after(async () => {
  await browser?.close();
  server?.close();
});

// Numbers in a text, and the text with each replaced by '#'.
const numbers = (s) => (s.match(/-?\d+(\.\d+)?(e-?\d+)?/g) || []).map(Number);
const words = (s) => s.replace(/-?\d+(\.\d+)?(e-?\d+)?/g, '#');
const between = (s, a, b) => { const i = s.indexOf(a); return i < 0 ? null : s.slice(i, s.indexOf(b, i)); };

test('the Report tab builds the labeled set\'s report as `cnnlens report` does', async () => {
  execFileSync(cli, ['report', '--model', model, '--data', courseCsv, '--out', cliOut, '--seed', `${seed}`,
    '--lime-samples', `${limeSamples}`, '--smoothgrad-samples', `${smoothgradSamples}`, '--steps', `${steps}`],
  { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });

  await dropOnCanvas(page, [[fs.readFileSync(path.join(root, courseCsv)), 'course_10.csv', 'text/csv']]);
  await page.waitForFunction(() => window.cnnlensTest.panels('confusion').matrix !== null, null, { timeout: 60000 });

  const t0 = Date.now();
  const started = await panels(`report start ${seed} ${limeSamples} ${smoothgradSamples} ${steps}`);
  assert.equal(started.error, '');
  assert.equal(started.source, 'course_10.csv (10 faces)');
  assert.equal(started.facesAtHand, false);
  await frames(3);
  assert.equal((await panels('state')).tab, 'report', 'the Report tab comes forward');
  // Progress shows while it runs, and the page keeps drawing.
  await page.waitForFunction(() => window.cnnlensTest.panels('report').progress > 0.05, null, { timeout: 120000, polling: 200 });
  await screenshot('1-running');
  // Cancel stops it where it is; Resume goes on from there.
  let r = await panels('report cancel');
  assert.equal(r.running, false);
  assert.equal(r.stopped, true);
  await frames(10);
  const held = (await panels('report')).progress;
  await frames(10);
  r = await panels('report');
  assert.equal(r.progress, held, 'nothing runs while stopped');
  assert.equal(r.done, false);
  assert.equal((await panels('state')).busy, false, 'a stopped report is no work');
  await screenshot('2-stopped');
  await panels('report resume');
  r = await reportDone(900000);
  console.log(`# the page's report in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.images} images, ${r.htmlBytes} bytes`);
  assert.equal(r.progress, 1);
  await frames(3);
  await screenshot('3-done');

  const html = await download('report html');
  assert.equal(html.name, 'cnnlens-report.html');
  const zip = await download('report zip');
  assert.equal(zip.name, 'cnnlens-report.zip');

  // Item for item: the pictures (decoded) and the text around them.
  const cmp = JSON.parse(execFileSync('/usr/bin/python3', [path.join(root, 'tests/e2e/report_compare.py'),
    path.join(cliOut, 'report.html'), html.file], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  assert.equal(cmp.picturesA, 7);
  assert.equal(cmp.picturesB, 7);
  const names = ['1_saliency_masks', '2_filters', '2_featuremaps', '3_lime', '3_confusion_counts',
    '3_confusion_normalized', '4_smoothgrad'];
  cmp.pictures.forEach((p, i) => {
    console.log(`# ${names[i]}: ${p.sameBytes ? 'same PNG bytes' : `max diff ${p.maxDiff}, ${(100 * p.fractionOver2).toFixed(3)} % of values differ by more than 2`}`);
    assert.deepEqual(p.sizeB, p.sizeA, `${names[i]}: same size and mode`);
    // The confusion matrices are counts: the same pictures. The maps and filter pictures are
    // float sums rounded to 8 bits, whose last bits differ between the native kernels (AVX) and
    // WebAssembly SIMD: a value may land on the other side of a rounding or colormap step.
    if (names[i].startsWith('3_confusion')) assert.ok(p.sameBytes, `${names[i]}: the same picture`);
    else assert.ok(p.fractionOver2 < 0.02, `${names[i]}: ${(100 * p.fractionOver2).toFixed(3)} % of values differ by more than 2`);
  });
  const [a, b] = [cmp.textA, cmp.textB];
  const heads = (s) => [...s.matchAll(/<h[12]>([^<]*)<\/h[12]>/g)].map((m) => m[1]);
  assert.deepEqual(heads(b), heads(a), 'the same sections');
  assert.equal(heads(a).length, 6);
  // The header names the data as each side was given it and each side's kernel set.
  const header = (s) => between(s, '<p>Model', '</p>');
  assert.match(header(a), new RegExp(`data <b>${courseCsv}</b> \\(label,feature csv, 10 images\\)`));
  assert.match(header(b), /data <b>course_10\.csv<\/b> \(label,feature csv, 10 images\)/);
  for (const h of [header(a), header(b)]) assert.match(h, new RegExp(`Model <b>[^<]+</b>.*, seed ${seed}\\.$`));
  const rest = (s) => s.replace(header(s), '');
  assert.equal(words(rest(b)), words(rest(a)), 'the same text, tables and plots but for their numbers');
  // Numbers: the accuracy and counts exactly; trust means, ranks and curve points (SVG
  // coordinates) within 0.05 + 5 %: the metrics are float sums over many model passes.
  const [na, nb] = [numbers(rest(a)), numbers(rest(b))];
  assert.equal(nb.length, na.length);
  let worst = 0;
  na.forEach((x, i) => {
    const d = Math.abs(x - nb[i]);
    worst = Math.max(worst, d / (0.05 + 0.05 * Math.abs(x)));
    assert.ok(d <= 0.05 + 0.05 * Math.abs(x), `number ${i}: CLI ${x}, page ${nb[i]}`);
  });
  console.log(`# ${na.length} numbers, the largest difference ${(100 * worst).toFixed(0)} % of its tolerance`);
  assert.equal(between(a, 'Overall accuracy', '('), between(b, 'Overall accuracy', '('));

  // Self-contained: nothing but data: URIs; and it opens offline with every picture.
  const page_html = fs.readFileSync(html.file, 'utf8');
  assert.equal(page_html.match(/https?:/), null, 'no address in the page');
  assert.equal(page_html.match(/href=|url\(|@import|<script|<link|<iframe/), null, 'no reference to a file');
  for (const m of page_html.matchAll(/src="([^"]{0,22})/g)) assert.equal(m[1], 'data:image/png;base64,');
  const offline = await browser.newContext({ offline: true, serviceWorkers: 'block' });
  const requests = [];
  offline.on('request', (q) => { if (!q.url().startsWith('data:') && !q.url().startsWith('file:')) requests.push(q.url()); });
  const viewer = await offline.newPage();
  await viewer.goto(`file://${html.file}`);
  const shown = await viewer.evaluate(() => [...document.images].map((i) => i.complete && i.naturalWidth > 0));
  assert.deepEqual(shown, Array(7).fill(true), 'every picture shows offline');
  assert.equal(await viewer.evaluate(() => document.querySelectorAll('svg').length), 2);
  await viewer.screenshot({ path: path.join(artifacts, 'report-4-offline.png'), fullPage: false });
  await offline.close();
  assert.deepEqual(requests, []);

  // The ZIP: a valid archive (Python's zipfile checks every CRC) of the files the CLI writes,
  // whose pictures are the page's.
  const listing = execFileSync('/usr/bin/python3', ['-c', `
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(' '.join(i.filename for i in z.infolist() if i.compress_type == zipfile.ZIP_STORED))`, zip.file], { encoding: 'utf8' }).trim().split(' ');
  const cliFiles = fs.readdirSync(cliOut).filter((f) => f !== 'report.html' && f !== 'report.zip').sort();
  assert.deepEqual([...listing].sort(), cliFiles);
  assert.equal(listing[0], 'index.html');
  const same = execFileSync('/usr/bin/python3', ['-c', `
import base64, re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
page = open(sys.argv[2]).read()
uris = re.findall(r'src="data:image/png;base64,([^"]*)"', page)
srcs = re.findall(r'src="([^"]*)"', z.read('index.html').decode())
print(all(z.read(s) == base64.b64decode(u) for s, u in zip(srcs, uris)) and len(srcs) == 7)`, zip.file, html.file], { encoding: 'utf8' }).trim();
  assert.equal(same, 'True', 'the ZIP holds the pictures of the HTML file');
});

test('without a labeled set choice, the faces at hand: labelled by their prediction', async () => {
  const started = await panels(`report start ${seed} 30 2 2 faces`);
  assert.equal(started.error, '');
  assert.equal(started.facesAtHand, true);
  assert.match(started.source, /faces at hand/);
  const r = await reportDone(300000);
  assert.equal(r.images, 1);
  assert.equal(r.accuracy, 1, 'the faces agree with their own predictions');
  const html = await download('report html');
  const text = fs.readFileSync(html.file, 'utf8');
  assert.match(text, /No labeled set: the 1 face found in [^,]+, each labelled by its predicted class/);
  await screenshot('5-faces-at-hand');
});

test('no request leaves the local server and the page logged no errors', () => {
  assert.deepEqual(outside, []);
  assert.deepEqual(pageErrors, []);
});
