// Drop-to-faces benchmark: how long a dropped JPEG takes, in the page, from the drop event until
// its faces are found and classified and the frame showing them is drawn; for photos of 0.25
// (512x512), 12, 16 and 48 megapixels made from scikit-image's astronaut (tests/e2e/make_photos.py),
// in both builds (single-threaded app.js served plainly; threaded app-mt.js served with COOP/COEP),
// with each photo decoder the page has (cnnlensTest.setPhotoDecoder: 'engine' = stb_image in
// wasm, 'browser' = createImageBitmap in a worker) and with the page's own choice ('auto').
// One Chromium (Debian's, via playwright-core), one fresh page per build; every cell gets
// `warmup` drops, then `runs` timed drops, and the table shows the median and the fastest drop
// (on a loaded machine the fastest is the one least disturbed by other work). The app's own account of
// each open (cnnlensTest.photoTimings(): read, browser decode, copy, engine decode, RGBA -> RGB,
// downscale, detection, classification) is averaged into the breakdown table.
// Usage (from the repo root, with a built site):
//   node bench/photos.mjs [--runs 5] [--warmup 1] [--sizes 0.25,12,16,48] [--decoders auto,engine,browser]
//                         [--builds st,mt] [--site build/wasm/site] [--out bench/out]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dropOnCanvas, launchChromium, openPage, waitReady } from '../tests/e2e/harness.mjs';
import { serve } from '../tests/e2e/serve.mjs';
import { describeMachine, parseArgs, stats, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs('photos.mjs', process.argv.slice(2), {
  runs: 5, warmup: 1, sizes: '0.25,12,16,48', decoders: 'auto,engine,browser', builds: 'st,mt',
  site: 'build/wasm/site', out: 'bench/out',
});
const RUNS = Number(args.runs), WARMUP = Number(args.warmup);
const SIZES = String(args.sizes).split(',');
const DECODERS = String(args.decoders).split(',');
const BUILDS = String(args.builds).split(',');
if (!(RUNS >= 1) || !(WARMUP >= 0) || DECODERS.some((d) => !['auto', 'engine', 'browser'].includes(d)) ||
    BUILDS.some((b) => !['st', 'mt'].includes(b))) {
  throw new Error(`photos.mjs: --runs ${args.runs} --warmup ${args.warmup} --decoders ${args.decoders} --builds ${args.builds}: ` +
    'want runs >= 1, warmup >= 0, decoders among auto,engine,browser, builds among st,mt');
}
const SITE = path.resolve(ROOT, args.site);
if (!fs.existsSync(path.join(SITE, 'app.wasm'))) throw new Error(`photos.mjs: no built site in ${args.site}: build the wasm preset first`);

const photoDir = path.join(ROOT, 'build/photos');
const names = SIZES.map((s) => `jpeg-${s}mp.jpg`);
execFileSync('/usr/bin/python3', [path.join(ROOT, 'tests/e2e/make_photos.py'), photoDir, ...names], { stdio: 'inherit' });
const photos = names.map((n) => fs.readFileSync(path.join(photoDir, n)));

const log = (s) => process.stderr.write(s + '\n');
const machine = describeMachine(ROOT);
const results = {};  // results[build][size][decoder] = {ms: [...], timings: [...], error}

// Puts the photo into the page once, as a File kept in a global (base64 crosses the DevTools
// pipe far faster than an array of numbers).
async function upload(page, bytes, name) {
  await page.evaluate(([b64, n]) => {
    const bin = atob(b64), data = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; ++i) data[i] = bin.charCodeAt(i);
    (window.benchPhotos ||= {})[n] = new File([data], n, { type: 'image/jpeg' });
  }, [bytes.toString('base64'), name]);
}

// One drop, timed in the page: from the drop event to the first frame drawn after the photo
// version changed (faces found, classified and shown). Resolves {ms, faces, timings} or {error}.
// Each drop lands on an idle page, as a user's would: the previous photo's explanation and the
// panels' background work (the class grid's maps) are done, so neither case pays for cancelling
// them.
function dropAndTime(page, name) {
  return page.evaluate(async (n) => {
    const t = window.cnnlensTest;
    await t.idle();
    const v0 = t.photoVersion(), e0 = t.error();
    const dt = new DataTransfer();
    dt.items.add(window.benchPhotos[n]);
    const t0 = performance.now();
    document.getElementById('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      if (t.photoVersion() !== v0) break;
      const e = t.error();
      if (e && e !== e0 && !t.filesWaiting()) return { error: e };
      if (performance.now() - t0 > 120000) return { error: 'no photo within 120 s' };
    }
    const f0 = t.frames();
    while (t.frames() <= f0) await new Promise((r) => requestAnimationFrame(r));
    const ms = performance.now() - t0;
    return { ms, faces: t.faces().length, timings: t.photoTimings ? t.photoTimings() : null };
  }, name);
}

const browser = await launchChromium();
machine.chromium = browser.version();
log(`machine: ${machine.cpu}, ${machine.cores} cores, Chromium ${machine.chromium}, load ${machine.load_before}`);
try {
  for (const build of BUILDS) {
    const server = await serve(SITE, { isolate: build === 'mt' });
    const origin = `http://127.0.0.1:${server.address().port}`;
    const { page } = await openPage(browser, origin);
    await page.goto(`${origin}/`);
    await waitReady(page);
    const got = await page.evaluate(() => window.cnnlensTest.build);
    if (got !== build) throw new Error(`photos.mjs: asked for the ${build} build, the page runs ${got}`);
    const canChoose = await page.evaluate(() => typeof window.cnnlensTest.setPhotoDecoder === 'function');
    results[build] = {};
    for (let i = 0; i < SIZES.length; ++i) await upload(page, photos[i], names[i]);
    for (let i = 0; i < SIZES.length; ++i) {
      results[build][SIZES[i]] = {};
      for (const decoder of DECODERS) {
        const cell = { ms: [], timings: [], faces: null, error: null };
        results[build][SIZES[i]][decoder] = cell;
        if (!canChoose && decoder !== 'auto') { cell.error = 'this site has no setPhotoDecoder'; continue; }
        if (canChoose) await page.evaluate((d) => window.cnnlensTest.setPhotoDecoder(d), decoder);
        for (let r = 0; r < WARMUP + RUNS && !cell.error; ++r) {
          const o = await dropAndTime(page, names[i]);
          if (o.error) { cell.error = o.error; break; }
          cell.faces = o.faces;
          if (r >= WARMUP) { cell.ms.push(o.ms); if (o.timings) cell.timings.push(o.timings); }
        }
        log(`${build} ${SIZES[i]} MP ${decoder}: ${cell.error || cell.ms.map((m) => m.toFixed(0)).join(' ') + ' ms'}`);
      }
    }
    await page.context().close();
    server.close();
  }
} finally {
  await browser.close();
}
machine.load_after = (await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ');

const med = (v) => stats(v)?.median;
const min = (v) => stats(v)?.min;
const cellText = (c) => (c.error ? `(${c.error.slice(0, 60)})` : `${med(c.ms).toFixed(0)} [${min(c.ms).toFixed(0)}] ms`);
let md = `## Drop-to-faces in the page: median [fastest] of ${RUNS} drops after ${WARMUP} warm-up\n\n`;
md += `${machine.cpu}, ${machine.cores} cores, Chromium ${machine.chromium}, load ${machine.load_before} -> ${machine.load_after}; ` +
  `commit ${machine.commit}; \`node bench/photos.mjs --runs ${RUNS} --warmup ${WARMUP}\`\n\n`;
md += `| photo | ${BUILDS.flatMap((b) => DECODERS.map((d) => `${b} ${d}`)).join(' | ')} |\n`;
md += `|---|${BUILDS.flatMap(() => DECODERS.map(() => '---:')).join('|')}|\n`;
for (const s of SIZES) md += `| ${s} MP | ${BUILDS.flatMap((b) => DECODERS.map((d) => cellText(results[b][s][d]))).join(' | ')} |\n`;
// Ratios to the 512x512 photo, per build and decoder (the issue's goal: 16 MP within 3x).
if (SIZES.includes('0.25')) {
  md += `\nRatio to the 0.25 MP photo, of the medians [of the fastest drops]:\n\n| photo | ${BUILDS.flatMap((b) => DECODERS.map((d) => `${b} ${d}`)).join(' | ')} |\n`;
  md += `|---|${BUILDS.flatMap(() => DECODERS.map(() => '---:')).join('|')}|\n`;
  for (const s of SIZES.filter((x) => x !== '0.25')) {
    md += `| ${s} MP | ${BUILDS.flatMap((b) => DECODERS.map((d) => {
      const c = results[b][s][d], base = results[b]['0.25'][d];
      return c.error || base.error ? '-' : `${(med(c.ms) / med(base.ms)).toFixed(1)}x [${(min(c.ms) / min(base.ms)).toFixed(1)}x]`;
    })).join(' | ')} |\n`;
  }
}
// Where the time goes: the app's stages, mean over the timed drops of each cell.
const stages = [...new Set(Object.values(results).flatMap((bs) => Object.values(bs).flatMap((ds) =>
  Object.values(ds).flatMap((c) => c.timings.flatMap((t) => Object.keys(t))))))];
if (stages.length) {
  md += `\nWhere the time goes (ms, mean of the timed drops; the rest of drop-to-faces is reading the file, frames and waiting for them):\n\n`;
  md += `| build | photo | decoder | ${stages.join(' | ')} |\n|---|---|---|${stages.map(() => '---:').join('|')}|\n`;
  for (const b of BUILDS) for (const s of SIZES) for (const d of DECODERS) {
    const c = results[b][s][d];
    if (!c.timings.length) continue;
    const mean = (k) => c.timings.reduce((a, t) => a + (t[k] || 0), 0) / c.timings.length;
    md += `| ${b} | ${s} MP | ${d} | ${stages.map((k) => mean(k).toFixed(0)).join(' | ')} |\n`;
  }
}
writeResults(path.resolve(ROOT, args.out), 'photos', { machine, runs: RUNS, warmup: WARMUP, results }, md);
