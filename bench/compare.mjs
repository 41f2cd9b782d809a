// The core-engine benchmark: our kernel sets (native, and simd compiled to wasm) against TF.js's
// wasm backend on the bundled FER2013 model; prints one table of ms per image with ratios to TF.js.
// Usage (from the repo root, after bench/run.sh built the CLI): node bench/compare.mjs [--rounds N]
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
const MODEL_JSON = path.join(MODEL_DIR, 'emotion.json');
const LOGITS = 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean';
const TARGET_CLASS = 3;  // cli/bench.cpp seeds the backward pass with this logit too

const args = parseArgs('compare.mjs', process.argv.slice(2), {
  rounds: 5, native: 'build/bench-native/cli/cnnlens', wasm: 'build/bench-wasm/cli/cnnlens.js', out: 'bench/out',
});
const ROUNDS = Number(args.rounds);

// One list drives measuring, the table and the JSON. `cliBatch` is the batch the CLI runs for a
// cell: batch 1000 is measured as batch-64 chunks (see the table's footnote).
const CELLS = [
  { id: 'fwd1', what: 'forward', batch: 1, title: 'forward b1' },
  { id: 'fwd64', what: 'forward', batch: 64, title: 'forward b64' },
  { id: 'fwd1000', what: 'forward', batch: 1000, cliBatch: 64, title: 'forward b1000' },
  { id: 'grad1', what: 'gradient', batch: 1, title: 'input grad b1' },
  { id: 'grad50', what: 'gradient', batch: 50, title: 'input grad b50' },
];
const TFJS = 'tfjs-wasm';
const CONFIGS = [
  { id: 'native-reference', title: 'ours native reference', cli: 'native', kernels: 'reference', cells: ['fwd1', 'fwd64', 'grad1'] },
  { id: 'native-simd', title: 'ours native simd', cli: 'native', kernels: 'simd' },
  { id: 'native-xnnpack', title: 'ours native xnnpack', cli: 'native', kernels: 'xnnpack' },
  { id: 'wasm-simd', title: 'ours wasm simd (node)', cli: 'wasm', kernels: 'simd' },
  { id: TFJS, title: 'TF.js 4.22 wasm, SIMD, 1 thread (node)' },
];
// Samples per round for a CLI batch, the CLI's own warm-up passes before its one timed pass, and the
// reference set's batch-64 exception: one pass takes about a minute (forward + the gradient the CLI
// always times as well), so it gets one sample in the first round only, without warm-up.
const cliPlan = (config, batch) =>
  config.kernels === 'reference' && batch > 1 ? { samples: 1, warmup: 0, firstRoundOnly: true }
    : { samples: batch === 1 ? 3 : 1, warmup: batch === 1 ? 10 : 1 };  // V8 tiers wasm up only after some calls
const TARGETS = [
  { config: 'native-xnnpack', max: 0.5, text: 'native xnnpack forward per image <= 0.5x TF.js-wasm' },
  { config: 'wasm-simd', max: 0.8, text: 'wasm simd (1 thread) forward per image <= 0.8x TF.js-wasm (1 thread)' },
];
// Input gradient against our own forward pass at the same batch (issue #7: at most 2.5x).
const GRADIENT_TARGETS = [
  { config: 'wasm-simd', max: 2.5, text: 'wasm simd input gradient per image <= 2.5x its own forward per image (b1 vs b1, b50 vs b64)', pairs: [['grad1', 'fwd1'], ['grad50', 'fwd64']] },
  { config: 'native-xnnpack', max: 2.5, text: 'native xnnpack input gradient per image <= 2.5x its own forward per image (b1 vs b1, b50 vs b64)', pairs: [['grad1', 'fwd1'], ['grad50', 'fwd64']] },
];

const started = Date.now();
const machine = describeMachine(ROOT);
const samples = {};  // samples[config][cell] = [ms per image, ...]
const notes = {};    // notes[config][cell] = why the cell holds no number
const cellsOf = (c) => CELLS.filter((cell) => !c.cells || c.cells.includes(cell.id));
for (const c of CONFIGS) {
  samples[c.id] = Object.fromEntries(cellsOf(c).map((cell) => [cell.id, []]));
  notes[c.id] = {};
}
for (const c of CONFIGS.filter((c) => c.cli)) {
  // run.sh passes `none` when a build failed, so that a stale binary is not measured.
  const missing = args[c.cli] === 'none' ? `${c.cli} build failed` : !fs.existsSync(path.resolve(ROOT, args[c.cli])) && `not built (${args[c.cli]})`;
  if (missing) for (const cell of cellsOf(c)) notes[c.id][cell.id] = missing;
}

const tfjs = await setUpTfjs();
log(`machine: ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.load_before}`);
log(`TF.js ${tf.version.tfjs} backend ${tf.getBackend()}: SIMD ${tfjs.simd}, threads ${tfjs.threads}` +
  (tfjs.gradError ? `; input gradient: ${tfjs.gradError}` : ''));

// Rounds interleave every configuration so that load drifting on a shared machine hits all of
// them alike; each round also starts at a different configuration.
for (let r = 0; r < ROUNDS; ++r) {
  const order = CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length]);
  for (const c of order) {
    if (c.id === TFJS) tfjsRound(c);
    else cliRound(c, r);
  }
  log(`round ${r + 1}/${ROUNDS} done after ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

machine.load_after = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const result = summarize();
const markdown = renderMarkdown(result);
const outDir = path.resolve(ROOT, args.out);
writeResults(outDir, 'latest', result, markdown);
log(`wrote ${path.relative(ROOT, outDir)}/latest.md and latest.json`);

// ---- our engine, through `cnnlens bench` ----

function cliRound(config, round) {
  const batches = [...new Set(cellsOf(config).map((cell) => cell.cliBatch ?? cell.batch))];
  for (const batch of batches) {
    const cells = cellsOf(config).filter((cell) => (cell.cliBatch ?? cell.batch) === batch);
    if (cells.every((cell) => notes[config.id][cell.id])) continue;
    const plan = cliPlan(config, batch);
    if (plan.firstRoundOnly && round > 0) continue;
    for (let s = 0; s < plan.samples; ++s) {
      const res = runCli(config, batch, plan.warmup);
      for (const cell of cells) {
        if (res.error) notes[config.id][cell.id] = res.error;
        else samples[config.id][cell.id].push(cell.what === 'forward' ? res.forward_ms_per_image : res.gradient_ms_per_image);
      }
      if (res.error) return;
    }
  }
}

// One process, one timed pass (the CLI reports only the median of its runs, so each sample is a
// separate process with its own warm-up; this is also what yields min and max).
function runCli(config, batch, warmup) {
  const cliArgs = ['bench', '--json', '--model', MODEL_DIR, '--kernels', config.kernels, '--threads', '1',
    '--batch', String(batch), '--runs', '1', '--warmup', String(warmup)];
  const [cmd, argv] = config.cli === 'wasm'
    ? [process.execPath, ['--no-experimental-fetch', args.wasm, ...cliArgs]]
    : [path.resolve(ROOT, args.native), cliArgs];
  const p = spawnSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 });
  const line = (p.stdout || '').trim().split('\n').pop();
  try {
    const res = JSON.parse(line);
    if (res.kernels !== config.kernels) throw new Error(`asked for ${config.kernels}, ran ${res.kernels}`);
    return res;
  } catch {
    const why = (p.stderr || p.error?.message || `exit ${p.status}`).trim().split('\n').pop();
    log(`${config.id} batch ${batch} failed: ${why}`);
    return { error: `error: ${why.slice(0, 80)}` };
  }
}

// ---- TF.js wasm, in this process ----

async function setUpTfjs() {
  const require = createRequire(import.meta.url);
  // In node the backend reads its .wasm files from disk, from the package's dist folder.
  tfwasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  tfwasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js: the wasm backend failed to initialise');
  await tf.ready();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  if (!simd) throw new Error('TF.js: this node has no wasm SIMD; the comparison needs the SIMD binary');

  const model = await loadTfjsModel(path.join(ROOT, MODEL_DIR), 'emotion.json');
  const inputName = model.inputs[0].name;
  const inputs = {};
  for (const cell of cellsOf(CONFIGS.find((c) => c.id === TFJS))) {
    inputs[cell.batch] ??= tf.randomUniform([cell.batch, 64, 64, 1], 0, 1, 'float32', 42);
  }
  const forward = (x) => { const y = model.execute({ [inputName]: x }); y.dataSync(); y.dispose(); };
  const gradOf = tf.grad((x) => model.execute({ [inputName]: x }, LOGITS).slice([0, TARGET_CLASS], [-1, 1]).sum());
  const gradient = (x) => tf.tidy(() => gradOf(x).dataSync());
  let gradError = null, missingKernel = null;
  try {
    gradient(inputs[1]);
  } catch (e) {
    const kernel = /Kernel '(\w+)' not registered/.exec(e.message);
    gradError = kernel ? `n/a (no kernel)` : `error: ${e.message.slice(0, 80)}`;
    missingKernel = kernel?.[1] ?? null;
  }
  for (const cell of cellsOf(CONFIGS.find((c) => c.id === TFJS))) {
    if (cell.what === 'gradient' && gradError) { notes[TFJS][cell.id] = gradError; continue; }
    const f = cell.what === 'forward' ? forward : gradient;
    for (let i = 0; i < (cell.batch === 1 ? 3 : 1); ++i) f(inputs[cell.batch]);  // warm-up
  }
  return { forward, gradient, inputs, simd, threads: tfwasm.getThreadsCount(), gradError, missingKernel };
}

function tfjsRound(config) {
  for (const cell of cellsOf(config)) {
    if (notes[TFJS][cell.id]) continue;
    const f = cell.what === 'forward' ? tfjs.forward : tfjs.gradient;
    const x = tfjs.inputs[cell.batch];
    for (let s = 0; s < (cell.batch === 1 ? 3 : 1); ++s) {
      const t0 = performance.now();
      f(x);
      samples[TFJS][cell.id].push((performance.now() - t0) / cell.batch);
    }
  }
}

// ---- summary and rendering ----

function summarize() {
  const table = CONFIGS.map((c) => ({
    config: c.id, title: c.title,
    cells: Object.fromEntries(CELLS.map((cell) => {
      const st = samples[c.id][cell.id] ? stats(samples[c.id][cell.id]) : null;
      const theirs = stats(samples[TFJS][cell.id] ?? []);
      const note = notes[c.id][cell.id] ?? (samples[c.id][cell.id] ? 'no samples' : 'not run (slow)');
      return [cell.id, st
        ? { ...st, samples: samples[c.id][cell.id], ratio_to_tfjs: theirs && c.id !== TFJS ? st.median / theirs.median : null }
        : { note }];
    })),
  }));
  const targets = TARGETS.map((t) => {
    const row = table.find((r) => r.config === t.config);
    const ratios = Object.fromEntries(CELLS.filter((cell) => cell.what === 'forward')
      .map((cell) => [cell.id, row.cells[cell.id].ratio_to_tfjs ?? null]));
    const measured = Object.values(ratios).filter((x) => x != null);
    return { ...t, ratios, pass: measured.length > 0 && measured.every((x) => x <= t.max) };
  }).concat(GRADIENT_TARGETS.map((t) => {
    const row = table.find((r) => r.config === t.config);
    const ratios = Object.fromEntries(t.pairs.map(([g, f]) => {
      const a = row.cells[g]?.median, b = row.cells[f]?.median;
      return [g, a && b ? a / b : null];
    }));
    const measured = Object.values(ratios).filter((x) => x != null);
    return { ...t, ratios, pass: measured.length > 0 && measured.every((x) => x <= t.max) };
  }));
  return {
    machine, rounds: ROUNDS, seconds: (Date.now() - started) / 1000,
    units: 'ms per image; median [min-max] over samples; ratio = ours / TF.js-wasm median',
    method: {
      ours: 'one sample = one `cnnlens bench --json --runs 1 --warmup W --batch B --kernels K` process (W = 10 at batch 1, else 1)',
      tfjs: 'one sample = model.execute + dataSync in this process, after warm-up; inputs uniform [0,1], seed 42',
    },
    cells: CELLS, tfjs: { version: tf.version.tfjs, simd: tfjs.simd, threads: tfjs.threads, missing_gradient_kernel: tfjs.missingKernel },
    table, targets,
  };
}

function renderMarkdown(res) {
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const head = ['configuration', ...CELLS.map((c) => c.title), ...CELLS.map((c) => `ratio ${c.title.replace('input ', '')}`)];
  const rows = res.table.map((r) => {
    const ref = (id) => (r.config !== TFJS && CELLS.find((c) => c.id === id).cliBatch ? ' †' : '');
    const value = (id) => {
      const c = r.cells[id];
      if (!c.median) return c.note;
      const single = c.n === 1 ? ' (1 run)' : '';
      return `${fmt(c.median)} [${fmt(c.min)}–${fmt(c.max)}]${single}${ref(id)}`;
    };
    const ratio = (id) => (r.cells[id].ratio_to_tfjs != null ? `${r.cells[id].ratio_to_tfjs.toFixed(2)}x`
      : r.config === TFJS && r.cells[id].median ? '1' : 'n/a');
    return [r.title, ...CELLS.map((c) => value(c.id)), ...CELLS.map((c) => ratio(c.id))];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const m = res.machine;
  const out = [
    `# cnnlens core-engine benchmark`,
    '',
    `- machine: ${m.cpu}, ${m.cores} cores (${m.flags.join(', ')}), ${m.mem_gib} GiB; node ${m.node}; ${m.os}`,
    `- load average (1/5/15 min): ${m.load_before} at start, ${m.load_after} at end` +
      (Math.max(parseFloat(m.load_before), parseFloat(m.load_after)) > m.cores ? ' — **busy machine: absolute times are inflated; compare ratios**' : ''),
    `- commit: ${m.commit}; ${m.date}; ${res.rounds} rounds, ${res.seconds.toFixed(0)} s`,
    `- model: ${MODEL_JSON} (64x64x1, inputs uniform [0,1]); input gradient = d logit[${TARGET_CLASS}] / d input; all single-threaded`,
    '',
    `ms per image, median [min–max] after warm-up; ratio = ours / TF.js-wasm (lower is better).`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    `† batch 1000 measured as batch-64 chunks (16 x 64): \`cnnlens bench\` always times the gradient at the`,
    `  same batch, so the CLI takes batch-64 calls (each run in cache-sized pieces anyway); the`,
    `  value is the per-image time of the batch-64 passes. TF.js ran a true batch of 1000.`,
    `  Our samples are one timed pass per \`cnnlens bench\` process after its own warm-up; TF.js's are`,
    `  passes in this node process after warm-up${res.tfjs.missing_gradient_kernel ? `; TF.js-wasm has no '${res.tfjs.missing_gradient_kernel}' kernel, so no input gradient` : ''}.`,
    '',
    `## Targets`,
    ...res.targets.map((t) => `- ${t.pass ? 'PASS' : 'FAIL'}: ${t.text}; measured ` +
      Object.entries(t.ratios).map(([id, x]) => `${CELLS.find((c) => c.id === id).title} ${x == null ? 'n/a' : x.toFixed(2) + 'x'}`).join(', ')),
    '',
  ];
  return out.join('\n');
}

// ---- small helpers ----

function log(msg) {
  process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}
