// The explanations benchmark: time per explanation of the astronaut face, per method, for our
// engine (natively with the xnnpack and simd kernel sets, and compiled to wasm under node) next
// to the same work in TF.js's wasm backend (in this process) and in PyTorch (bench/torch_methods.py,
// Debian's python3-torch), all on one thread, interleaved in rounds so that machine load hits all
// alike. Writes bench/out/methods.{md,json}.
//
// The work, identical on every side: forward = the class scores of the face; saliency = one
// input gradient of logit 3; SmoothGrad = 50
// noisy copies in one batch; IG = 50 steps in one batch; LIME = 1000 perturbed images in batches
// of 100, read back, and a weighted ridge fit; filter = 100 Adam steps (lr 0.05) on the pixels
// ascending logit 3 through the whole net.
//
// TF.js 4.22's wasm backend cannot take this model's input gradient: it lacks
// Conv2DBackpropFilter and DepthwiseConv2dNativeBackpropInput. We add both (see
// addGradientKernels): the filter gradient as zeros without computing anything (the weights are
// constants, the result is discarded, so TF.js's time is a lower bound of a real kernel's), the
// depthwise input gradient as XNNPACK's depthwise convolution with the kernel rotated 180 degrees.
// Its MaxPoolGrad is wrong on this model: the gradient is checked against TF.js's cpu backend
// with the cpu backend's MaxPoolGrad in place, then timed with TF.js-wasm's own (same cost).
//
// Usage (after bench/run.sh or the test command built the CLIs):
//   node bench/methods.mjs [--rounds 3] [--native build/native-release/cli/cnnlens]
//     [--wasm build/wasm/cli/cnnlens.js] [--threads 1,2] [--methods saliency,lime,...] [--out bench/out]
// --threads: thread counts for our native CLI and for PyTorch (the wasm CLI under node and
// TF.js run one thread); each count gets its own rows and targets.
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
const LOGITS = 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean';
const CLS = 3;
const ALL_METHODS = ['forward', 'saliency', 'smoothgrad', 'ig', 'lime', 'filter'];
const args = parseArgs('methods.mjs', process.argv.slice(2), {
  rounds: 3, native: 'build/native-release/cli/cnnlens', wasm: 'build/wasm/cli/cnnlens.js',
  threads: '1', out: 'bench/out', methods: ALL_METHODS.join(','),
});
const THREADS = String(args.threads).split(',');
const plural = (t) => `${t} thread${t === '1' ? '' : 's'}`;
const METHODS = String(args.methods).split(',');
for (const m of METHODS) if (!ALL_METHODS.includes(m)) throw new Error(`methods.mjs: unknown method '${m}' (${ALL_METHODS.join(', ')})`);
// Runs per sample: a forward pass or one gradient takes milliseconds, so it gets 30 runs after
// 10 warm-up runs (3 after 1 left V8's baseline code and cold caches in the wasm forward: 9 ms
// instead of 3.5); the explanations take 50-5000 ms and get 3 after 1. The same on every side.
const QUICK = new Set(['forward', 'saliency']);
const runsFor = (m) => (QUICK.has(m) ? 30 : 3);
const warmupFor = (m) => (QUICK.has(m) ? 10 : 1);

const started = Date.now();
const log = (m) => process.stderr.write(`[methods ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

const CONFIGS = [
  ...THREADS.flatMap((t) => [
    { id: `native-xnnpack-${t}`, title: `ours, native, xnnpack, ${plural(t)}`, cli: 'native', kernels: 'xnnpack', threads: t },
    { id: `native-simd-${t}`, title: `ours, native, simd, ${plural(t)}`, cli: 'native', kernels: 'simd', threads: t },
  ]),
  { id: 'wasm-simd', title: 'ours, wasm SIMD128 (node), 1 thread', cli: 'wasm', kernels: 'simd', threads: '1' },
  { id: 'tfjs', title: 'TF.js 4.22 wasm (XNNPACK, SIMD), node, 1 thread' },
  ...THREADS.flatMap((t) => [
    { id: `torch-frozen-${t}`, title: `PyTorch 1.13, TorchScript frozen, ${plural(t)}`, torch: { threads: t, variant: 'frozen' } },
    { id: `torch-eager-${t}`, title: `PyTorch 1.13, eager, ${plural(t)}`, torch: { threads: t, variant: 'eager' } },
  ]),
];
const samples = Object.fromEntries(CONFIGS.map((c) => [c.id, Object.fromEntries(METHODS.map((m) => [m, []]))]));
const partials = Object.fromEntries(CONFIGS.map((c) => [c.id, []]));  // LIME: ms to the first estimate
const notes = Object.fromEntries(CONFIGS.map((c) => [c.id, {}]));

const machine = describeMachine(ROOT);
const face = readFace();
const tfjs = await setUpTfjs();
log(`machine: ${machine.cpu}, ${machine.cores} cores, load ${machine.load_before}; TF.js gradient check: ${tfjs.check}`);

for (let r = 0; r < Number(args.rounds); ++r) {
  const order = CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length]);
  const torchDone = new Set();
  for (const c of order) {
    if (c.cli) cliRound(c);
    else if (c.torch && !torchDone.has(c.torch.threads)) { torchRound(c.torch.threads); torchDone.add(c.torch.threads); }
    else if (c.id === 'tfjs') tfjsRound();
  }
  log(`round ${r + 1}/${args.rounds} done`);
}
machine.load_after = os.loadavg().map((l) => l.toFixed(2)).join(' ');

const result = summarize();
writeResults(path.resolve(ROOT, args.out), 'methods', result, render(result));

// ---- ours: one `cnnlens bench --method M --json` process per sample (median of its runs) ----

function cliRound(c) {
  const bin = path.resolve(ROOT, args[c.cli]);
  if (!fs.existsSync(bin)) { for (const m of METHODS) notes[c.id][m] = `not built (${args[c.cli]})`; return; }
  for (const m of METHODS) {
    const cmd = c.cli === 'wasm' ? ['node', ['--no-experimental-fetch', bin]] : [bin, []];
    const p = spawnSync(cmd[0], [...cmd[1], 'bench', '--model', MODEL_DIR, '--method', m, '--kernels', c.kernels,
      '--threads', c.threads, '--runs', String(runsFor(m)), '--warmup', String(warmupFor(m)), '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (p.status !== 0) { notes[c.id][m] = `error: ${(p.stderr || '').trim().split('\n').pop()}`; continue; }
    const res = JSON.parse(p.stdout.trim().split('\n').pop());
    samples[c.id][m].push(res.ms);
    if (m === 'lime' && res.first_partial_ms >= 0) partials[c.id].push({ first: res.first_partial_ms, total: res.ms });
  }
}

// ---- PyTorch: bench/torch_methods.py prints one JSON line per method and variant ----

function torchRound(threads) {
  const p = spawnSync('/usr/bin/python3', ['bench/torch_methods.py', '--threads', threads, '--runs', '3', '--quick-runs', String(runsFor('forward')),
    '--methods', METHODS.join(',')], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  const ids = CONFIGS.filter((c) => c.torch?.threads === threads);
  if (p.status !== 0) {
    for (const c of ids) for (const m of METHODS) notes[c.id][m] = `error: ${(p.stderr || '').trim().split('\n').pop()}`;
    return;
  }
  for (const line of p.stdout.trim().split('\n')) {
    const r = JSON.parse(line);
    samples[`torch-${r.variant}-${threads}`][r.method].push(r.ms);
  }
}

// ---- TF.js wasm, in this process ----

function readFace() {
  // Case 0 of the oracle inputs is the astronaut face as image_to_input makes it (64x64 gray, [0,1]).
  const meta = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests/data/oracle/inputs.json'), 'utf8'));
  const all = fs.readFileSync(path.join(ROOT, 'tests/data/oracle/inputs.f32'));
  const n = meta.height * meta.width * meta.channels;
  return new Float32Array(all.buffer.slice(all.byteOffset, all.byteOffset + 4 * n));
}

// A kernel of TF.js's cpu backend run on wasm tensors (copied in and out).
function delegateToCpu(name) {
  const cpu = tf.findBackend('cpu'), wasm = tf.findBackend('wasm'), k = tf.getKernel(name, 'cpu');
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ({ inputs, attrs }) => {
    const cin = {};
    for (const [key, t] of Object.entries(inputs))
      cin[key] = { dataId: cpu.write(wasm.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
    const o = k.kernelFunc({ inputs: cin, attrs, backend: cpu });
    for (const t of Object.values(cin)) cpu.disposeData(t.dataId);
    const v = cpu.readSync(o.dataId);
    cpu.disposeData(o.dataId);
    return { dataId: wasm.write(v, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
  } });
}

function addGradientKernels() {
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: ({ attrs, backend }) => {
    const shape = attrs.filterShape;
    return { dataId: backend.write(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, 'float32'), shape, dtype: 'float32' };
  } });
  tf.registerKernel({ kernelName: 'DepthwiseConv2dNativeBackpropInput', backendName: 'wasm', kernelFunc: ({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs;
    const [kh, kw, , mult] = filter.shape;
    const ok = attrs.strides.every((s) => s === 1) && mult === 1 && attrs.pad === 'same' && kh % 2 && kw % 2 &&
      (attrs.dilations ?? [1, 1]).every((d) => d === 1);
    if (!ok) throw new Error(`DepthwiseConv2dNativeBackpropInput: only stride 1, multiplier 1, SAME, odd kernels (got ${JSON.stringify(attrs)})`);
    const rev = tf.getKernel('Reverse', 'wasm').kernelFunc({ inputs: { x: filter }, attrs: { dims: [0, 1] }, backend });
    const out = tf.getKernel('DepthwiseConv2dNative', 'wasm').kernelFunc({ inputs: { x: dy, filter: rev },
      attrs: { strides: [1, 1], pad: 'same', dilations: [1, 1], dataFormat: 'NHWC' }, backend });
    backend.disposeData(rev.dataId);
    return out;
  } });
}

async function setUpTfjs() {
  const require = createRequire(import.meta.url);
  tfwasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  tfwasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js: the wasm backend failed to initialise');
  const model = await loadTfjsModel(path.join(ROOT, MODEL_DIR), 'emotion.json');
  const input = model.inputs[0].name;
  const logits = (x) => model.execute({ [input]: x }, LOGITS);
  const gradOf = tf.grad((x) => logits(x).slice([0, CLS], [-1, 1]).sum());
  const x1 = tf.tensor4d(face, [1, 64, 64, 1]);

  // The reference gradient from TF.js's cpu backend, which has every kernel.
  await tf.setBackend('cpu');
  const ref = tf.tidy(() => gradOf(x1).dataSync().slice());
  await tf.setBackend('wasm');
  addGradientKernels();
  // TF.js-wasm's own MaxPoolGrad is wrong for SAME pooling of odd sizes (this model's 29x29 and
  // 15x15 maps: relative error 0.4 in the input gradient), so the check runs with the cpu
  // backend's; the timing then runs with TF.js-wasm's own again: its cost is what TF.js costs
  // (the cpu kernel with its copies would add seconds to a SmoothGrad).
  const ownMaxPoolGrad = tf.getKernel('MaxPoolGrad', 'wasm');
  delegateToCpu('MaxPoolGrad');
  const got = tf.tidy(() => gradOf(tf.tensor4d(face, [1, 64, 64, 1])).dataSync().slice());
  tf.unregisterKernel('MaxPoolGrad', 'wasm');
  tf.registerKernel(ownMaxPoolGrad);
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < ref.length; ++i) { maxRef = Math.max(maxRef, Math.abs(ref[i])); maxDiff = Math.max(maxDiff, Math.abs(ref[i] - got[i])); }
  if (!(maxDiff <= 1e-4 * maxRef)) throw new Error(`TF.js wasm gradient differs from its cpu backend: ${maxDiff} vs max ${maxRef}`);
  const check = `wasm vs cpu backend max |diff| ${maxDiff.toExponential(2)} (max |g| ${maxRef.toExponential(2)}) with the cpu backend's MaxPoolGrad; timed with TF.js-wasm's own`;

  const x = tf.tensor4d(face, [1, 64, 64, 1]);
  const work = {
    forward: () => tf.tidy(() => logits(x).dataSync()),
    saliency: () => tf.tidy(() => gradOf(x).abs().dataSync()),
    smoothgrad: () => tf.tidy(() => {
      const noisy = x.add(tf.randomNormal([50, 64, 64, 1], 0, 0.15, 'float32', 1));
      return gradOf(noisy).mean(0).dataSync();
    }),
    ig: () => tf.tidy(() => {
      const alphas = tf.range(0, 50).add(0.5).div(50).reshape([50, 1, 1, 1]);
      return gradOf(alphas.mul(x)).mean(0).mul(x.squeeze([0])).dataSync();
    }),
    lime: () => limeTfjs(model, input),
    filter: () => {
      const v = tf.variable(tf.fill([1, 64, 64, 1], 0.5));
      const opt = tf.train.adam(0.05);
      for (let s = 0; s < 100; ++s) opt.minimize(() => logits(v).slice([0, CLS], [1, 1]).sum().neg());
      const out = v.dataSync();
      v.dispose();
      opt.dispose();
      return out;
    },
  };
  for (const m of METHODS) work[m]();  // warm-up (the work of methods not measured is never run)
  return { work, check };
}

// LIME with TF.js as the model: an 8x8 grid of 64 segments (the same count as SLIC finds on the
// face), 1000 Bernoulli(0.5) masks (row 0 all on), hidden segments black, batches of 100, the
// class probability read back, then the weighted ridge fit of the other sides.
function limeTfjs(model, input) {
  const S = 64, N = 1000, B = 100;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 31);
  const z = new Uint8Array(N * S);
  for (let i = 0; i < N * S; ++i) z[i] = i < S ? 1 : rand();
  const y = new Float64Array(N);
  const seg = (p) => ((p >> 6) >> 3) * 8 + ((p & 63) >> 3);
  for (let first = 0; first < N; first += B) {
    const imgs = new Float32Array(B * 4096);
    for (let r = 0; r < B; ++r)
      for (let p = 0; p < 4096; ++p) imgs[r * 4096 + p] = z[(first + r) * S + seg(p)] ? face[p] : 0;
    const probs = tf.tidy(() => model.execute({ [input]: tf.tensor4d(imgs, [B, 64, 64, 1]) }, 'Identity').dataSync());
    for (let r = 0; r < B; ++r) y[first + r] = probs[r * 7 + CLS];
  }
  return ridge(z, y, N, S);
}

function ridge(z, y, n, m) {
  const k = m + 1, A = new Float64Array(k * k), b = new Float64Array(k);
  for (let i = 0; i < n; ++i) {
    let on = 0;
    for (let j = 0; j < m; ++j) on += z[i * m + j];
    const d = 1 - Math.sqrt(on / m), w = Math.sqrt(Math.exp(-d * d / 0.0625));
    const row = (j) => (j === m ? 1 : z[i * m + j]);
    for (let a = 0; a < k; ++a) {
      const ra = row(a);
      if (!ra) continue;
      b[a] += w * y[i];
      for (let c = 0; c < k; ++c) A[a * k + c] += w * row(c);
    }
  }
  for (let j = 0; j < m; ++j) A[j * k + j] += 1;
  for (let c = 0; c < k; ++c) {  // Gaussian elimination (A is symmetric positive definite)
    for (let r = c + 1; r < k; ++r) {
      const f = A[r * k + c] / A[c * k + c];
      for (let q = c; q < k; ++q) A[r * k + q] -= f * A[c * k + q];
      b[r] -= f * b[c];
    }
  }
  const x = new Float64Array(k);
  for (let r = k - 1; r >= 0; --r) {
    let s = b[r];
    for (let q = r + 1; q < k; ++q) s -= A[r * k + q] * x[q];
    x[r] = s / A[r * k + r];
  }
  return x;
}

function tfjsRound() {
  for (const m of METHODS) {
    const runs = [];
    for (let i = 0; i < warmupFor(m) - 1; ++i) tfjs.work[m]();  // one warm-up ran at set-up
    for (let i = 0; i < runsFor(m); ++i) {
      const t0 = performance.now();
      tfjs.work[m]();
      runs.push(performance.now() - t0);
    }
    samples.tfjs[m].push(stats(runs).median);
  }
}

// ---- results ----

function summarize() {
  const table = CONFIGS.map((c) => ({
    config: c.id, title: c.title,
    cells: Object.fromEntries(METHODS.map((m) => [m, stats(samples[c.id][m]) ?? { note: notes[c.id][m] ?? 'no samples' }])),
    lime_first_estimate: partials[c.id].length
      ? stats(partials[c.id].map((p) => p.first / p.total)) : null,
  }));
  const med = (id, m) => table.find((r) => r.config === id)?.cells[m]?.median;
  const ratio = (a, b, m) => (med(a, m) && med(b, m) ? med(a, m) / med(b, m) : null);
  const torchBest = (m, t = '1') => {
    const ids = CONFIGS.filter((c) => c.torch?.threads === t).map((c) => c.id);
    return ids.map((id) => med(id, m)).filter(Boolean).reduce((a, b) => Math.min(a, b), Infinity);
  };
  const firstEstimate = table.find((r) => r.config === 'wasm-simd')?.lime_first_estimate?.median ?? null;
  const names = { saliency: 'input gradient (saliency)', smoothgrad: 'SmoothGrad-50', ig: 'IG-50', lime: 'LIME-1000' };
  const targets = [
    // The issue holds both native kernel sets to the native targets (xnnpack, and simd on x86).
    ...THREADS.flatMap((t) => ['xnnpack', 'simd'].map((k) => ({ method: 'forward', text: `native forward of one face (${k}, ${plural(t)}) at most 1.0x PyTorch (best variant, ${plural(t)})`,
      value: med(`native-${k}-${t}`, 'forward') / torchBest('forward', t), max: 1.0 }))),
    { method: 'forward', text: 'wasm forward of one face at most 0.8x TF.js-wasm', value: ratio('wasm-simd', 'tfjs', 'forward'), max: 0.8 },
    { method: 'lime', text: 'wasm LIME-1000 at most 1.3x the time of 1000 forward passes', value: METHODS.includes('forward') ? med('wasm-simd', 'lime') / (1000 * med('wasm-simd', 'forward')) : null, max: 1.3 },
    { method: 'saliency', text: 'wasm input gradient at most 2.5x the forward pass', value: METHODS.includes('forward') ? med('wasm-simd', 'saliency') / med('wasm-simd', 'forward') : null, max: 2.5 },
    ...THREADS.flatMap((t) => ['xnnpack', 'simd'].flatMap((k) => ['saliency', 'smoothgrad', 'ig', 'lime'].map((m) => ({
      method: m, text: `native ${names[m]} (${k}, ${plural(t)}) at most 0.5x PyTorch (best variant, ${plural(t)})`,
      value: med(`native-${k}-${t}`, m) / torchBest(m, t), max: 0.5 })))),
    { method: 'lime', text: 'wasm LIME-1000 at most 0.8x TF.js-wasm', value: ratio('wasm-simd', 'tfjs', 'lime'), max: 0.8 },
    { method: 'lime', text: 'wasm LIME-1000: first progressive estimate within a tenth of the time', value: firstEstimate, max: 0.1 },
    { method: 'smoothgrad', text: 'wasm SmoothGrad-50 at most 0.25x TF.js-wasm (with added gradient kernels)', value: ratio('wasm-simd', 'tfjs', 'smoothgrad'), max: 0.25 },
  ].filter((t) => METHODS.includes(t.method)).map((t) => ({ ...t, pass: t.value != null && Number.isFinite(t.value) && t.value <= t.max }));
  return { machine, rounds: Number(args.rounds), seconds: (Date.now() - started) / 1000, tfjs_gradient_check: tfjs.check, table, targets };
}

function render(res) {
  const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const head = ['configuration', ...METHODS.map((m) => `${m} [ms]`)];
  const rows = res.table.map((r) => [r.title, ...METHODS.map((m) => {
    const c = r.cells[m];
    return c.median ? `${fmt(c.median)} [${fmt(c.min)}–${fmt(c.max)}]` : c.note;
  })]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`;
  const m = res.machine;
  return [
    '# cnnlens explanations benchmark',
    '',
    `- machine: ${m.cpu}, ${m.cores} cores; node ${m.node}; load ${m.load_before} at start, ${m.load_after} at end` +
      (Math.max(parseFloat(m.load_before), parseFloat(m.load_after)) > m.cores ? ' — **busy machine: compare ratios**' : ''),
    `- commit ${m.commit}; ${m.date}; ${res.rounds} rounds, ${res.seconds.toFixed(0)} s; one thread everywhere unless the row says so`,
    `- TF.js gradient kernels added (see bench/methods.mjs); ${res.tfjs_gradient_check}`,
    '',
    'ms per explanation of the astronaut face (64x64), median [min–max] of the rounds\' medians:',
    '',
    line(head), line(w.map((x) => '-'.repeat(x))), ...rows.map(line),
    '',
    '## Targets',
    ...res.targets.map((t) => `- ${t.pass ? 'PASS' : 'FAIL'}: ${t.text}: ${t.value == null ? 'n/a' : t.value.toFixed(3)} (target <= ${t.max})`),
    '',
  ].join('\n');
}
