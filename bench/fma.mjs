// Relaxed-SIMD FMA under node, side by side in one run: the bundled model's forward pass at batch 1
// and 64, one thread, with the wasm CLI (cnnlens.js: SIMD128 multiply, then add), the FMA CLI
// (cnnlens-fma.js: f32x4.relaxed_madd, kernel set simd-fma) and the FMA CLI's own simd set (the
// same module without FMA, so the module is not what differs), against TF.js 4.22's wasm backend
// (XNNPACK, SIMD, 1 thread) in this process; prints one table with the ratios to TF.js and the
// issue's target (wasm forward <= 0.6x TF.js-wasm at batch 1 and 64); writes bench/out/fma.{md,json}.
// Every CLI runs under node --experimental-wasm-relaxed-simd (node 20 has relaxed SIMD only behind
// the flag). Rounds interleave the configurations, each starting at a different one.
// Usage (from the repo root, after building cnnlens and cnnlens_fma in the wasm preset):
//   node bench/fma.mjs [--rounds 5] [--dir build/wasm/cli] [--out bench/out]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { describeMachine, loadTfjsModel, parseArgs, stats, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODEL_DIR = 'models/fer2013-mini-xception';
const args = parseArgs('fma.mjs', process.argv.slice(2), { rounds: 5, dir: 'build/wasm/cli', out: 'bench/out' });
const ROUNDS = Number(args.rounds);
if (!(ROUNDS >= 1)) throw new Error(`fma.mjs: --rounds ${args.rounds}: want at least 1`);
const TARGET_MAX = 0.6;
// Per sample: one `cnnlens bench` process, its warm-up passes (V8 tiers wasm up only after some
// calls), then `runs` timed passes whose median it reports.
const CELLS = [
  { id: 'fwd1', batch: 1, title: 'forward b1', warmup: 20, runs: 20 },
  { id: 'fwd64', batch: 64, title: 'forward b64', warmup: 1, runs: 3 },
];
const TFJS = 'tfjs';
const CONFIGS = [
  { id: 'simd', title: 'ours wasm, cnnlens.js, simd (mul + add)', cli: 'cnnlens.js', kernels: 'simd' },
  { id: 'fma-simd', title: 'ours wasm, cnnlens-fma.js, simd (mul + add)', cli: 'cnnlens-fma.js', kernels: 'simd' },
  { id: 'fma', title: 'ours wasm, cnnlens-fma.js, simd-fma (relaxed_madd)', cli: 'cnnlens-fma.js', kernels: 'simd-fma' },
  { id: TFJS, title: 'TF.js 4.22 wasm (XNNPACK, SIMD), 1 thread' },
];

const started = Date.now();
const machine = describeMachine(ROOT);
const samples = Object.fromEntries(CONFIGS.map((c) => [c.id, Object.fromEntries(CELLS.map((cell) => [cell.id, []]))]));
for (const c of CONFIGS.filter((c) => c.cli)) {
  const js = path.resolve(ROOT, args.dir, c.cli);
  if (!fs.existsSync(js)) throw new Error(`fma.mjs: ${path.relative(ROOT, js)} not built (cmake --build build/wasm --target cnnlens cnnlens_fma)`);
}
const tfjs = await setUpTfjs();
log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.load_before}`);

for (let r = 0; r < ROUNDS; ++r) {
  for (const c of CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length])) {
    for (const cell of CELLS) samples[c.id][cell.id].push(c.id === TFJS ? tfjsSample(cell) : cliSample(c, cell));
  }
  log(`round ${r + 1}/${ROUNDS} done after ${((Date.now() - started) / 1000).toFixed(0)} s, load ${os.loadavg()[0].toFixed(2)}`);
}

machine.load_after = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const result = summarize();
writeResults(path.resolve(ROOT, args.out), 'fma', result, renderMarkdown(result));

function cliSample(config, cell) {
  const argv = ['--no-experimental-fetch', '--experimental-wasm-relaxed-simd', path.resolve(ROOT, args.dir, config.cli),
    'bench', '--json', '--model', MODEL_DIR, '--kernels', config.kernels, '--threads', '1',
    '--batch', String(cell.batch), '--runs', String(cell.runs), '--warmup', String(cell.warmup)];
  const p = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
  const res = JSON.parse((p.stdout || '').trim().split('\n').pop() || 'null');
  if (!res || res.kernels !== config.kernels) {
    throw new Error(`${config.id} ${cell.id}: ${res ? `ran ${res.kernels}` : (p.stderr || '').slice(-300)}`);
  }
  return res.forward_ms_per_image;
}

async function setUpTfjs() {
  const require = createRequire(import.meta.url);
  tfwasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  tfwasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js: the wasm backend failed to initialise');
  await tf.ready();
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) throw new Error('TF.js: no wasm SIMD in this node');
  const model = await loadTfjsModel(path.join(ROOT, MODEL_DIR), 'emotion.json');
  const name = model.inputs[0].name;
  const inputs = Object.fromEntries(CELLS.map((c) => [c.batch, tf.randomUniform([c.batch, 64, 64, 1], 0, 1, 'float32', 42)]));
  const forward = (x) => { const y = model.execute({ [name]: x }); y.dataSync(); y.dispose(); };
  for (const cell of CELLS) for (let i = 0; i < cell.warmup; ++i) forward(inputs[cell.batch]);
  return { forward, inputs, version: tf.version.tfjs };
}

// The median of `runs` passes, as `cnnlens bench` reports.
function tfjsSample(cell) {
  const ms = [];
  for (let i = 0; i < cell.runs; ++i) {
    const t0 = performance.now();
    tfjs.forward(tfjs.inputs[cell.batch]);
    ms.push((performance.now() - t0) / cell.batch);
  }
  return stats(ms).median;
}

function summarize() {
  const table = CONFIGS.map((c) => ({
    config: c.id, title: c.title,
    cells: Object.fromEntries(CELLS.map((cell) => {
      const st = stats(samples[c.id][cell.id]), theirs = stats(samples[TFJS][cell.id]);
      const plain = stats(samples.simd[cell.id]);
      return [cell.id, { ...st, samples: samples[c.id][cell.id], ratio_to_tfjs: st.median / theirs.median,
        ratio_to_plain: c.id === TFJS ? null : st.median / plain.median,
        best_ratio_to_tfjs: st.min / theirs.min, best_ratio_to_plain: c.id === TFJS ? null : st.min / plain.min }];
    })),
  }));
  const fma = table.find((r) => r.config === 'fma');
  const ratios = Object.fromEntries(CELLS.map((cell) => [cell.id, fma.cells[cell.id].ratio_to_tfjs]));
  return {
    machine, rounds: ROUNDS, seconds: (Date.now() - started) / 1000, tfjs: tfjs.version,
    units: 'ms per image; median [min-max] over rounds; one sample = the median of `runs` passes after `warmup`',
    cells: CELLS, table,
    target: { max: TARGET_MAX, ratios, pass: Object.values(ratios).every((x) => x <= TARGET_MAX),
      text: `wasm forward per image with FMA <= ${TARGET_MAX}x TF.js-wasm at batch 1 and 64 (node, 1 thread; medians)` },
  };
}

function renderMarkdown(res) {
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const head = ['configuration', ...CELLS.map((c) => c.title), ...CELLS.map((c) => `/ TF.js ${c.title.replace('forward ', '')}`),
    ...CELLS.map((c) => `/ cnnlens.js ${c.title.replace('forward ', '')}`)];
  const rows = res.table.map((r) => [r.title,
    ...CELLS.map((c) => `${fmt(r.cells[c.id].median)} [${fmt(r.cells[c.id].min)}–${fmt(r.cells[c.id].max)}]`),
    ...CELLS.map((c) => (r.config === TFJS ? '1' : `${r.cells[c.id].ratio_to_tfjs.toFixed(2)}x (${r.cells[c.id].best_ratio_to_tfjs.toFixed(2)}x)`)),
    ...CELLS.map((c) => (r.cells[c.id].ratio_to_plain == null ? ''
      : `${r.cells[c.id].ratio_to_plain.toFixed(2)}x (${r.cells[c.id].best_ratio_to_plain.toFixed(2)}x)`))]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const m = res.machine;
  return [
    '# Relaxed-SIMD FMA under node',
    '',
    `- machine: ${m.cpu}, ${m.cores} cores (${m.flags.join(', ')}); node ${m.node} --experimental-wasm-relaxed-simd; TF.js ${res.tfjs}`,
    `- load average (1/5/15 min): ${m.load_before} at start, ${m.load_after} at end` +
      (Math.max(parseFloat(m.load_before), parseFloat(m.load_after)) > 1.5 ? ' — **busy machine: times are noisy; compare ratios**' : ''),
    `- commit: ${m.commit}; ${m.date}; ${res.rounds} rounds, ${res.seconds.toFixed(0)} s; model ${MODEL_DIR}, 1 thread`,
    '',
    `ms per image, median [min–max] over rounds; a sample is the median of ${CELLS.map((c) => `${c.runs} passes after ${c.warmup} warm-up at b${c.batch}`).join(', ')}.`,
    'Ratios: of the medians, and in brackets of the minima (what load on a shared machine inflates least).',
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `- ${res.target.pass ? 'PASS' : 'FAIL'}: ${res.target.text}; measured ` +
      CELLS.map((c) => `${c.title} ${res.target.ratios[c.id].toFixed(2)}x`).join(', '),
    '',
  ].join('\n');
}

function log(msg) {
  process.stderr.write(`[fma ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}
