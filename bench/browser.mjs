// The forward-pass benchmark in headless Chromium: our app page (window.cnnlensTest.benchForward)
// against TF.js 4.22's wasm backend (XNNPACK, SIMD; bench/browser/tfjs.html) on the bundled
// FER2013 model, ms per image at batch 1 and 64, for each thread count; prints one table with
// the ratios ours / TF.js at the same thread count and the issue's targets (<= 0.8x); writes
// bench/out/browser.{md,json}.
//
// Pages: rows with one thread are served without COOP/COEP (what any host gives: our loader starts
// the single-threaded app.js, TF.js its SIMD binary without threads); rows with more threads with
// COOP/COEP, so that the page is cross-origin isolated (our threaded app-mt.js, TF.js's threaded
// SIMD binary; TF.js 4.22 would cap its pool at hardwareConcurrency / 2, see tfjs.mjs).
// Our page starts the FMA builds (app-fma.js, app-mt-fma.js: relaxed SIMD's f32x4.relaxed_madd)
// where Chromium has relaxed SIMD; the rows "no FMA" load the same page with ?fma=0, which starts
// the plain SIMD128 builds, so both are measured side by side (--plain no leaves them out).
// --isolate always sends the headers for every row. Both sides are served from
// loopback only (the TF.js page loads TF.js from node_modules). One Chromium (Debian's, through
// playwright-core) with one page at a time: each round opens every configuration's page afresh
// (a new context, service workers blocked, so isolation comes from the server's headers alone),
// warms up, takes its samples and closes it; rounds rotate the order, so that load drifting on a
// shared machine hits every configuration alike.
//
// Usage (from the repo root, with a built site): node bench/browser.mjs [--rounds 5]
//   [--site build/wasm/site] [--threads 1,2] [--isolate auto|always] [--plain yes|no] [--out bench/out]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, openPage, waitReady } from '../tests/e2e/harness.mjs';
import { serve } from '../tests/e2e/serve.mjs';
import { describeMachine, parseArgs, stats, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODEL_JSON = 'models/fer2013-mini-xception/emotion.json';
const TFJS_PAGE = 'bench/browser/tfjs.html';
const args = parseArgs('browser.mjs', process.argv.slice(2), {
  rounds: 5, site: 'build/wasm/site', threads: '1,2', isolate: 'auto', plain: 'yes', out: 'bench/out',
});
const ROUNDS = Number(args.rounds);
const THREADS = String(args.threads).split(',').map(Number);
if (!(ROUNDS >= 1) || THREADS.some((t) => !Number.isInteger(t) || t < 1) || !['auto', 'always'].includes(args.isolate) ||
    !['yes', 'no'].includes(args.plain)) {
  throw new Error(`browser.mjs: --rounds ${args.rounds} --threads ${args.threads} --isolate ${args.isolate} --plain ${args.plain}: ` +
    'want rounds >= 1, thread counts >= 1 (e.g. 1,2), isolate auto or always, plain yes or no');
}
const SITE = path.resolve(ROOT, args.site);
if (!fs.existsSync(path.join(SITE, 'app.wasm'))) throw new Error(`browser.mjs: no built site in ${args.site} (app.wasm missing): build the wasm preset first`);

// Per cell and round: `warmup` passes, then `samples` timed single passes, on both sides.
// Before the first cell each page gets SETTLE_MS: after a page loads V8 keeps compiling its wasm
// with the optimising tier on background threads for a few seconds, and on a 2-core machine
// passes on 2 threads meanwhile took 5-13 ms instead of 2 (the same code, seconds later).
const SETTLE_MS = 3000;
const CELLS = [
  { id: 'fwd1', batch: 1, title: 'forward b1', warmup: 20, samples: 20 },
  { id: 'fwd64', batch: 64, title: 'forward b64', warmup: 1, samples: 3 },
];
const TARGET_MAX = 0.8;
const plural = (t) => `${t} thread${t === 1 ? '' : 's'}`;
const isolated = (t) => args.isolate === 'always' || t > 1;
const CONFIGS = THREADS.flatMap((t) => [
  { id: `ours-${t}`, side: 'ours', threads: t, isolate: isolated(t), query: '', title: `ours (app page), ${plural(t)}` },
  ...(args.plain === 'yes' ? [{ id: `ours-plain-${t}`, side: 'ours', threads: t, isolate: isolated(t), query: '?fma=0',
    title: `ours (app page, no FMA: ?fma=0), ${plural(t)}` }] : []),
  { id: `tfjs-${t}`, side: 'tfjs', threads: t, isolate: isolated(t), title: `TF.js 4.22 wasm (XNNPACK, SIMD), ${plural(t)}` },
]);

const started = Date.now();
const machine = describeMachine(ROOT);
const samples = Object.fromEntries(CONFIGS.map((c) => [c.id, Object.fromEntries(CELLS.map((cell) => [cell.id, []]))]));
const facts = Object.fromEntries(CONFIGS.map((c) => [c.id, []]));  // what each visit's page reported
const notes = {};   // notes[config] = why the config has (no more) samples: 'hook missing', errors
const pageErrors = Object.fromEntries(CONFIGS.map((c) => [c.id, []]));

// One server per side and header set: the site for our page, the repo root for the TF.js page.
const servers = {};
for (const iso of new Set(CONFIGS.map((c) => c.isolate))) {
  servers[iso] = { ours: await serve(SITE, { isolate: iso }), tfjs: await serve(ROOT, { isolate: iso }) };
}
const originOf = (c) => `http://127.0.0.1:${servers[c.isolate][c.side].address().port}`;

const browser = await launchChromium();
machine.chromium = browser.version();
log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, Chromium ${machine.chromium}, load ${machine.load_before}`);
try {
  for (let r = 0; r < ROUNDS; ++r) {
    for (const c of CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length])) {
      if (notes[c.id]) continue;
      try {
        await visit(c);
      } catch (e) {
        notes[c.id] = `error: ${e.message.split('\n')[0].replace(/^page\.\w+: /, '').slice(0, 160)}`;
        log(`${c.id}: ${e.message.split('\n')[0]}`);
      }
    }
    log(`round ${r + 1}/${ROUNDS} done after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
} finally {
  await browser.close();
  for (const s of Object.values(servers)) { s.ours.close(); s.tfjs.close(); }
}

machine.load_after = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const result = summarize();
const markdown = renderMarkdown(result);
const outDir = path.resolve(ROOT, args.out);
writeResults(outDir, 'browser', result, markdown);
log(`wrote ${path.relative(ROOT, outDir)}/browser.md and browser.json`);

// ---- one visit: open the page, warm up, take this round's samples, close ----

async function visit(config) {
  const origin = originOf(config);
  const { page, outside, pageErrors: errors } = await openPage(browser, origin);
  try {
    const seen = config.side === 'ours' ? await visitOurs(page, origin, config) : await visitTfjs(page, origin, config);
    facts[config.id].push(seen);
    if (outside.length) throw new Error(`the page requested another origin: ${outside[0]}`);
  } finally {
    pageErrors[config.id].push(...errors.slice(0, 3));
    await page.context().close();
  }
}

// Checked before any sample is taken: the rows are defined by their page's isolation.
function expectIsolation(config, isolated) {
  if (isolated !== config.isolate) throw new Error(`page is ${isolated ? '' : 'not '}cross-origin isolated, expected the opposite`);
}

// Our engine through the app's test hook (docs/app-internals.md): benchForward(batch, runs, threads)
// -> {ms_per_image, batch, runs, threads (what the engine used), kernels}.
async function visitOurs(page, origin, config) {
  await page.goto(`${origin}/${config.query}`);
  await waitReady(page);
  await page.waitForTimeout(SETTLE_MS);
  const seen = await page.evaluate(() => ({
    isolated: self.crossOriginIsolated === true,
    build: window.cnnlensTest.buildScript ? window.cnnlensTest.buildScript.replace('./', '')
      : window.cnnlensTest.build ? (window.cnnlensTest.build === 'mt' ? 'app-mt.js' : 'app.js')
      : performance.getEntriesByType('resource').some((e) => new URL(e.name).pathname.endsWith('/app-mt.js')) ? 'app-mt.js' : 'app.js',
    hook: typeof window.cnnlensTest.benchForward === 'function',
  }));
  expectIsolation(config, seen.isolated);
  if (!seen.hook) {
    notes[config.id] = 'hook missing';
    log(`${config.id}: window.cnnlensTest.benchForward is missing on this site; our rows stay empty`);
    return seen;
  }
  const run = (batch, runs) => page.evaluate(([b, n, t]) => window.cnnlensTest.benchForward(b, n, t), [batch, runs, config.threads]);
  const used = new Set(), kernels = new Set();
  // As on the TF.js page: the warm-up passes, then the timed passes back to back in one call
  // (one sample per pass).
  for (const cell of CELLS) {
    await run(cell.batch, cell.warmup);
    const res = await run(cell.batch, cell.samples);
    if (!(res && res.batch === cell.batch && res.ms_per_image > 0 && Array.isArray(res.passes) && res.passes.length === cell.samples)) {
      throw new Error(`benchForward(${cell.batch}, ${cell.samples}, ${config.threads}) answered ${JSON.stringify(res)}`);
    }
    samples[config.id][cell.id].push(...res.passes);
    used.add(res.threads);
    kernels.add(res.kernels);
  }
  return { ...seen, threads: [...used], kernels: [...kernels] };
}

async function visitTfjs(page, origin, config) {
  await page.goto(`${origin}/${TFJS_PAGE}?threads=${config.threads}`);
  await page.waitForFunction(() => window.tfjsBench, null, { timeout: 60000 });
  await page.waitForTimeout(SETTLE_MS);
  const info = await page.evaluate(() => window.tfjsBench.ready);
  expectIsolation(config, info.crossOriginIsolated);
  if (!info.simd) throw new Error('TF.js: this Chromium has no wasm SIMD; the comparison needs the SIMD binary');
  for (const cell of CELLS) {
    await page.evaluate(([b, n]) => window.tfjsBench.forward(b, n), [cell.batch, cell.warmup]);
    samples[config.id][cell.id].push(...await page.evaluate(([b, n]) => window.tfjsBench.forward(b, n), [cell.batch, cell.samples]));
  }
  return { isolated: info.crossOriginIsolated, version: info.version, simd: info.simd, multithread: info.multithread,
    threads: [info.threads], cores_shown: info.hardware_concurrency_shown === info.hardware_concurrency ? undefined : info.hardware_concurrency_shown };
}

// ---- summary and rendering ----

// Distinct values of a fact over a config's visits.
function seenValues(id, key) {
  return [...new Set(facts[id].flatMap((f) => (Array.isArray(f[key]) ? f[key] : [f[key]])).filter((v) => v !== undefined))];
}

function describePage(c) {
  if (!facts[c.id].length) return 'not loaded';
  const iso = seenValues(c.id, 'isolated').map((v) => (v ? 'isolated' : 'not isolated')).join('/');
  const threads = seenValues(c.id, 'threads');
  const used = threads.length ? `${threads.join('/')} thread${threads.join('') === '1' ? '' : 's'} used` : null;
  if (c.side === 'ours') return [iso, seenValues(c.id, 'build').join('/'), seenValues(c.id, 'kernels').join('/'), used].filter(Boolean).join(', ');
  const shown = seenValues(c.id, 'cores_shown');
  return [iso, seenValues(c.id, 'multithread').map((m) => (m ? 'threaded SIMD binary' : 'SIMD binary')).join('/'), used,
    shown.length ? `shown ${shown.join('/')} cores †` : null].filter(Boolean).join(', ');
}

function summarize() {
  const table = CONFIGS.map((c) => {
    const tfjs = `tfjs-${c.threads}`;
    return {
      config: c.id, title: c.title, side: c.side, threads: c.threads, coop_coep: c.isolate,
      page: describePage(c), facts: facts[c.id], note: notes[c.id] ?? null, page_errors: pageErrors[c.id],
      cells: Object.fromEntries(CELLS.map((cell) => {
        const st = stats(samples[c.id][cell.id]), theirs = stats(samples[tfjs][cell.id]);
        return [cell.id, st
          ? { ...st, samples: samples[c.id][cell.id], ratio_to_tfjs: c.side === 'ours' && theirs ? st.median / theirs.median : null }
          : { note: notes[c.id] ?? 'no samples' }];
      })),
    };
  });
  const targets = THREADS.map((t) => {
    const ours = table.find((r) => r.config === `ours-${t}`), tfjs = table.find((r) => r.config === `tfjs-${t}`);
    const ratios = Object.fromEntries(CELLS.map((cell) => [cell.id, ours.cells[cell.id].ratio_to_tfjs ?? null]));
    const why = [];
    if (ours.note) why.push(`ours: ${ours.note.startsWith('error') ? 'error' : ours.note}`);
    if (tfjs.note) why.push(`TF.js: ${tfjs.note.startsWith('error') ? 'error' : tfjs.note}`);
    for (const [row, name] of [[ours, 'ours'], [tfjs, 'TF.js']]) {
      const used = seenValues(row.config, 'threads');
      if (used.length && used.some((u) => u !== t)) why.push(`${name} used ${used.join('/')} thread(s), not ${t}`);
    }
    const measured = Object.values(ratios).filter((x) => x != null);
    return {
      threads: t, max: TARGET_MAX, ratios, problems: why,
      text: `ours ${plural(t)}: forward per image <= ${TARGET_MAX}x TF.js-wasm ${plural(t)} at batch 1 and 64 (headless Chromium)`,
      pass: measured.length === CELLS.length && measured.every((x) => x <= TARGET_MAX) && !why.length,
    };
  });
  return {
    machine, rounds: ROUNDS, seconds: (Date.now() - started) / 1000, site: args.site, isolate: args.isolate,
    units: 'ms per image; median [min-max] over samples; ratio = ours / TF.js-wasm median at the same thread count',
    method: {
      ours: 'per round: a fresh page of the site; per batch benchForward(batch, warmup, threads), then ' +
        'benchForward(batch, samples, threads): one sample per pass, the passes back to back in one call (as on the TF.js page)',
      tfjs: `per round: a fresh ${TFJS_PAGE}?threads=N; per batch warm-up passes, then one sample = model.execute + ` +
        'dataSync of one batch timed with performance.now(); inputs uniform [0,1], seed 42',
    },
    cells: CELLS, table, targets,
  };
}

function renderMarkdown(res) {
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const head = ['configuration', 'page', ...CELLS.map((c) => c.title), ...CELLS.map((c) => `ratio ${c.title}`)];
  const rows = res.table.map((r) => {
    const value = (id) => {
      const c = r.cells[id];
      return c.median ? `${fmt(c.median)} [${fmt(c.min)}–${fmt(c.max)}]${c.n === 1 ? ' (1 run)' : ''}`
        : c.note.startsWith('error') ? 'error (see below)' : c.note;
    };
    const ratio = (id) => (r.cells[id].ratio_to_tfjs != null ? `${r.cells[id].ratio_to_tfjs.toFixed(2)}x`
      : r.side === 'tfjs' && r.cells[id].median ? '1' : 'n/a');
    return [r.title, r.page, ...CELLS.map((c) => value(c.id)), ...CELLS.map((c) => ratio(c.id))];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const m = res.machine;
  const problems = [
    ...res.table.filter((r) => r.note?.startsWith('error')).map((r) => `- ${r.config} stopped: ${r.note}`),
    ...res.table.filter((r) => r.page_errors.length).map((r) => `- ${r.config} page error: ${r.page_errors[0].slice(0, 160)}`),
  ];
  const out = [
    `# cnnlens forward benchmark in headless Chromium`,
    '',
    `- machine: ${m.cpu}, ${m.cores} cores (${m.flags.join(', ')}), ${m.mem_gib} GiB; Chromium ${m.chromium} headless; node ${m.node}; ${m.os}`,
    `- load average (1/5/15 min): ${m.load_before} at start, ${m.load_after} at end` +
      (Math.max(parseFloat(m.load_before), parseFloat(m.load_after)) > m.cores ? ' — **busy machine: absolute times are inflated; compare ratios**' : ''),
    `- commit: ${m.commit}; ${m.date}; ${res.rounds} rounds, ${res.seconds.toFixed(0)} s; site ${res.site}`,
    `- model: ${MODEL_JSON} (64x64x1); pages: ` + (res.isolate === 'always'
      ? 'every row served with COOP/COEP (cross-origin isolated, --isolate always)'
      : 'rows with 1 thread served without COOP/COEP (not cross-origin isolated), rows with more threads with them'),
    '',
    `ms per image, median [min–max] after warm-up; ratio = ours / TF.js-wasm with the same threads (lower is better).`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `Each round loads every page afresh (one page at a time); per batch, ${CELLS.map((c) => `b${c.batch}: ${c.warmup} warm-up + ${c.samples} timed passes`).join(', ')}.`,
    `Both sides time the passes of a cell back to back in one page call, one sample per pass. Ours: a pass is one`,
    `GraphProbe run inside \`cnnlensTest.benchForward(batch, samples, threads)\`; TF.js: one`,
    `model.execute + dataSync timed with performance.now(), which Chromium coarsens to 0.1 ms on pages that are not`,
    `cross-origin isolated. "page": isolation, the build or binary that ran, and the threads the engine reported using.`,
    ...(res.table.some((r) => seenValues(r.config, 'cores_shown').length)
      ? [`† TF.js 4.22 caps its thread pool at navigator.hardwareConcurrency / 2 (it assumes two hyperthreads per core),`,
        `  so with ${m.cores} cores setThreadsCount(N) alone gives ${Math.max(1, Math.floor(m.cores / 2))}; its page shows TF.js 2N cores so that it uses the N threads asked.`]
      : []),
    ...(problems.length ? ['', ...problems] : []),
    '',
    `## Targets`,
    ...res.targets.map((t) => `- ${t.pass ? 'PASS' : 'FAIL'}: ${t.text}; measured ` +
      Object.entries(t.ratios).map(([id, x]) => `${CELLS.find((c) => c.id === id).title} ${x == null ? 'n/a' : x.toFixed(2) + 'x'}`).join(', ') +
      (t.problems.length ? ` (${t.problems.join('; ')})` : '')),
    '',
  ];
  return out.join('\n');
}

function log(msg) {
  process.stderr.write(`[browser ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}
