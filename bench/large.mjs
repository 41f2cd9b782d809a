// The 224x224 comparison (issue #16): torchvision's resnet18, mobilenet_v2 and efficientnet_b0 with
// seeded random weights, exported to ONNX by bench/torch_large.py, run side by side in one run by
//   - ours natively (`cnnlens bench --model X.onnx`, simd kernels, 1 and 2 threads),
//   - ours in wasm under node, one thread, in two builds of the same CLI: cnnlens-fma.js (simd-fma
//     kernels, f32x4.relaxed_madd: what Chromium, the page's target, runs; node 20 needs
//     --experimental-wasm-relaxed-simd, which is passed) and cnnlens.js (SIMD128 multiply, then add),
//   - onnxruntime-web 1.20 under node (wasm execution provider, SIMD; bench/ort_node.mjs),
//   - PyTorch 1.13 (frozen TorchScript forward, eager input gradient; bench/torch_large.py),
// at batch 1 and 8; medians of --runs passes after warm-up, ms per image. Then whole explanations
// of one photo (skimage's astronaut at 224x224, written by torch_large.py beside the models) with
// our methods' defaults, natively on 1 and 2 threads against PyTorch on as many:
//   SmoothGrad-50 (`cnnlens bench --method smoothgrad`: 50 noisy copies, sigma 0.15 of the input's
//   range, in one batch; PyTorch: the same copies, eager autograd) and LIME-1000 (`--method lime`:
//   SLIC superpixels, 1000 masked copies in batches of 100, the class probability, weighted ridge;
//   PyTorch: skimage's SLIC with the same settings, the frozen model); torch_large.py's docstring
//   spells out both definitions. Medians of --method-runs explanations (SmoothGrad after one
//   warm-up run on both sides, LIME after none: it is 1000 forward passes in 10 batches).
// Gradients (the input gradient, SmoothGrad) run at both tape precisions: the float32 tape
// (--precision float) is PyTorch's precision and carries the gradient targets; the exact tape, the
// default, is shown beside them.
// Rounds alternate the runtimes so a change of machine load spreads over all of them.
// onnxruntime-web has no gradients: the wasm gradient is compared with our own wasm forward of
// the same build, as the issue asks. The wasm targets use the FMA build when this node runs it
// (else the SIMD128 build, and the table says so); the SIMD128 build's ratio is shown beside.
// Prints the tables and the targets, writes bench/out/large.{md,json} (node bench/summary.mjs
// reads the targets).
//   node bench/large.mjs [--models resnet18,mobilenet_v2,efficientnet_b0] [--runs 10] [--rounds 1]
//       [--batches 1,8] [--methods smoothgrad,lime | none] [--method-runs 3]
//       [--native build/native-release/cli/cnnlens] [--wasm build/wasm/cli/cnnlens.js]
//       [--wasm-fma build/wasm/cli/cnnlens-fma.js] [--dir build/bench-large] [--out bench/out]
// Methods are slow (LIME-1000 on resnet18 takes 25-40 s per run on each side): --methods none
// skips them, --method-runs 1 makes a quick check.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, parseArgs, stats, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs('large.mjs', process.argv.slice(2), {
  models: 'resnet18,mobilenet_v2,efficientnet_b0', runs: 10, rounds: 1, batches: '1,8',
  methods: 'smoothgrad,lime', 'method-runs': 3,
  native: 'build/native-release/cli/cnnlens', wasm: 'build/wasm/cli/cnnlens.js', 'wasm-fma': 'build/wasm/cli/cnnlens-fma.js',
  dir: 'build/bench-large', out: 'bench/out',
});
const models = args.models.split(','), batches = args.batches.split(',').map(Number), runs = String(args.runs);
const METHOD_NAMES = { smoothgrad: 'SmoothGrad-50', lime: 'LIME-1000' };
const methods = args.methods === 'none' ? [] : args.methods.split(',');
for (const m of methods) if (!(m in METHOD_NAMES)) throw new Error(`large.mjs: --methods: unknown method '${m}' (smoothgrad, lime, or none)`);
const methodRuns = String(args['method-runs']);
const METHOD_WARMUP = { smoothgrad: '1', lime: '0' };  // as torch_large.py warms up
const photo = path.join(args.dir, 'astronaut224.png');  // written by torch_large.py --methods
const machine = describeMachine(ROOT);
const started = Date.now();
const log = (m) => process.stderr.write(`[large ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s] ${m}\n`);
const run = (cmd, argv) => execFileSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
const lastJson = (text) => JSON.parse(text.trim().split('\n').filter((l) => l.startsWith('{')).at(-1));
for (const f of [args.native, args.wasm])
  if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`large.mjs: ${f} is not built (scripts/test.sh or cmake --build the presets first)`);
const fma = probeFma();
log(fma.available ? `wasm FMA: ${args['wasm-fma']} runs simd-fma with node ${fma.flags.join(' ') || '(no flag)'}` : `wasm FMA: not measured: ${fma.why}`);

// samples[model][config][cell] = [ms, ...]; forward and gradient cells `${what}_${threads}t_b${batch}`
// (ms per image), method cells `${method}_${threads}t` (ms per explanation). Configs: native,
// wasm (cnnlens.js, SIMD128), wasm_fma (cnnlens-fma.js, simd-fma), ort, torch.
const samples = {};
const add = (m, config, cell, v) => (((samples[m] ??= {})[config] ??= {})[cell] ??= []).push(v);
const onnx = (m) => path.join(args.dir, `${m}.onnx`);
let torchNotes = {};
run('/usr/bin/python3', ['bench/torch_large.py', '--dir', args.dir, '--models', args.models, '--export-only',
  ...(methods.length ? ['--methods', methods.join(',')] : [])]);
const wasmBuilds = [['wasm', ['--no-experimental-fetch', args.wasm]]];
if (fma.available) wasmBuilds.push(['wasm_fma', ['--no-experimental-fetch', ...fma.flags, args['wasm-fma']]]);
for (let round = 0; round < Number(args.rounds); ++round) {
  for (const m of models) {
    for (const threads of [1, 2])
      for (const batch of batches) {
        const r = lastJson(run(args.native, ['bench', '--model', onnx(m), '--threads', String(threads), '--batch', String(batch), '--runs', runs, '--json']));
        add(m, 'native', `forward_${threads}t_b${batch}`, r.forward_ms_per_image);
        add(m, 'native', `gradient_${threads}t_b${batch}`, r.gradient_ms_per_image);
        if (batch !== 1) continue;
        const f = lastJson(run(args.native, ['bench', '--model', onnx(m), '--threads', String(threads), '--batch', '1', '--runs', runs,
          '--only', 'gradient', '--precision', 'float', '--json']));
        add(m, 'native', `gradient_float_${threads}t_b1`, f.gradient_ms_per_image);
      }
    for (const threads of [1, 2])
      for (const method of methods) {
        // Gradient methods at both tape precisions: float32 is PyTorch's, exact our default.
        for (const precision of method === 'lime' ? ['exact'] : ['float', 'exact']) {
          const r = lastJson(run(args.native, ['bench', '--model', onnx(m), '--preset', 'imagenet', '--image', photo, '--method', method,
            '--threads', String(threads), '--runs', methodRuns, '--warmup', METHOD_WARMUP[method], '--precision', precision, '--json']));
          add(m, 'native', `${method}${precision === 'float' ? '_float' : ''}_${threads}t`, r.ms);
          log(`${m} native ${method} ${threads}t ${precision}: ${r.ms.toFixed(0)} ms`);
        }
      }
    for (const [config, cmd] of wasmBuilds)
      for (const batch of batches) {
        const r = lastJson(run('node', [...cmd, 'bench', '--model', onnx(m), '--batch', String(batch), '--runs', runs, '--json']));
        if (config === 'wasm_fma' && r.kernels !== 'simd-fma') throw new Error(`large.mjs: ${args['wasm-fma']} ran kernels ${r.kernels}, not simd-fma`);
        add(m, config, `forward_1t_b${batch}`, r.forward_ms_per_image);
        add(m, config, `gradient_1t_b${batch}`, r.gradient_ms_per_image);
        if (batch !== 1) continue;
        const f = lastJson(run('node', [...cmd, 'bench', '--model', onnx(m), '--batch', '1', '--runs', runs, '--only', 'gradient',
          '--precision', 'float', '--json']));
        add(m, config, 'gradient_float_1t_b1', f.gradient_ms_per_image);
      }
    for (const threads of [1, 2])
      for (const batch of batches) {
        const r = lastJson(run('node', ['bench/ort_node.mjs', onnx(m), '--threads', String(threads), '--batch', String(batch), '--runs', runs]));
        add(m, 'ort', `forward_${threads}t_b${batch}`, r.ms_per_image);
      }
    log(`${m}: round ${round + 1} of ours and onnxruntime-web done`);
  }
  const t = lastJson(run('/usr/bin/python3', ['bench/torch_large.py', '--dir', args.dir, '--models', args.models, '--threads', '1,2',
    '--batches', args.batches, '--runs', runs, ...(methods.length ? ['--methods', methods.join(','), '--method-runs', methodRuns] : [])]));
  for (const [m, r] of Object.entries(t.models)) {
    for (const [k, v] of Object.entries(r.forward)) add(m, 'torch', `forward_${k}`, v);
    for (const [k, v] of Object.entries(r.gradient)) add(m, 'torch', `gradient_${k}`, v);
    for (const [k, v] of Object.entries(r.methods ?? {})) add(m, 'torch', k, v);
    torchNotes[m] = r.method_notes ?? {};
  }
  log(`round ${round + 1} of PyTorch done`);
}
machine.load_after = (await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ');

const med = (m, config, cell) => stats(samples[m]?.[config]?.[cell] ?? [])?.median ?? NaN;
const f0 = (v) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const plural = (t) => `${t} thread${t > 1 ? 's' : ''}`;
// The wasm build the wasm targets are measured on, and the one shown beside it (when both ran).
const WASM = fma.available ? 'wasm_fma' : 'wasm', WASM_ALSO = fma.available ? 'wasm' : null;
const wasmLabel = fma.available ? 'FMA build, cnnlens-fma.js' : `SIMD128 build, cnnlens.js; FMA not measured: ${fma.why}`;
// Targets: ratio per model, ratio <= max passes; `also`: the same ratio for the SIMD128 build.
const targets = [];
// `exact`: the same ratio with the exact tape (the default), shown beside a float32-tape target.
const target = (text, max, ratioOf, also, exact) => {
  const ratios = Object.fromEntries(models.map((m) => [m, ratioOf(m, WASM)]));
  const ok = Object.values(ratios).every((v) => Number.isFinite(v) && v <= max);
  const t = { text, max, ratios, pass: ok };
  if (also && WASM_ALSO) t.also = { build: 'cnnlens.js (SIMD128)', ratios: Object.fromEntries(models.map((m) => [m, ratioOf(m, WASM_ALSO)])) };
  if (exact) t.exact = Object.fromEntries(models.map((m) => [m, exact(m, WASM)]));
  targets.push(t);
};
const FLOAT_TAPE = 'float32 tape, --precision float: PyTorch\'s precision';
for (const b of batches) {
  target(`wasm forward per image <= 0.5x onnxruntime-web 1.20 (node, 1 thread, batch ${b}; ${wasmLabel})`, 0.5,
    (m, w) => med(m, w, `forward_1t_b${b}`) / med(m, 'ort', `forward_1t_b${b}`), true);
  for (const t of [1, 2])
    target(`native forward <= 0.6x PyTorch frozen TorchScript (${plural(t)}, batch ${b})`, 0.6,
      (m) => med(m, 'native', `forward_${t}t_b${b}`) / med(m, 'torch', `forward_${t}t_b${b}`));
}
for (const t of [1, 2])
  target(`native input gradient <= 0.5x PyTorch eager (${plural(t)}, batch 1; ${FLOAT_TAPE})`, 0.5,
    (m) => med(m, 'native', `gradient_float_${t}t_b1`) / med(m, 'torch', `gradient_${t}t_b1`), false,
    (m) => med(m, 'native', `gradient_${t}t_b1`) / med(m, 'torch', `gradient_${t}t_b1`));
target('native: two threads at batch 1 take <= 0.59x one thread\'s time (>= 1.7x faster), forward', 1 / 1.7,
  (m) => med(m, 'native', 'forward_2t_b1') / med(m, 'native', 'forward_1t_b1'));
target(`wasm input gradient <= 2.5x our own wasm forward (batch 1, the same build; onnxruntime-web has no gradients; ${wasmLabel}; ${FLOAT_TAPE})`, 2.5,
  (m, w) => med(m, w, 'gradient_float_1t_b1') / med(m, w, 'forward_1t_b1'), true,
  (m, w) => med(m, w, 'gradient_1t_b1') / med(m, w, 'forward_1t_b1'));
for (const method of methods)
  for (const t of [1, 2]) {
    const cell = method === 'lime' ? `${method}_${t}t` : `${method}_float_${t}t`;
    target(`native ${METHOD_NAMES[method]} <= 0.5x PyTorch (${plural(t)}, the 224x224 photo${method === 'lime' ? '' : `; ${FLOAT_TAPE}`})`, 0.5,
      (m) => med(m, 'native', cell) / med(m, 'torch', `${method}_${t}t`), false,
      method === 'lime' ? undefined : (m) => med(m, 'native', `${method}_${t}t`) / med(m, 'torch', `${method}_${t}t`));
  }

const rows = [];
for (const m of models)
  for (const b of batches) {
    const fw = (c, t = 1) => med(m, c, `forward_${t}t_b${b}`);
    rows.push(`| ${m} | ${b} | ${f1(fw('native'))} / ${f1(fw('native', 2))} | ${f1(fw('wasm_fma'))} / ${f1(fw('wasm'))} | ${f1(fw('ort'))} / ${f1(fw('ort', 2))} | ` +
      `${f1(fw('torch'))} / ${f1(fw('torch', 2))} | ${f2(fw('wasm_fma') / fw('ort'))} / ${f2(fw('wasm') / fw('ort'))} | ` +
      `${f2(fw('native') / fw('torch'))} / ${f2(fw('native', 2) / fw('torch', 2))} | ` +
      `${b === 1 ? [['native', 'gradient_float_1t_b1'], ['native', 'gradient_1t_b1'], ['torch', 'gradient_1t_b1'], ['wasm_fma', 'gradient_float_1t_b1'],
        ['wasm_fma', 'gradient_1t_b1'], ['wasm', 'gradient_float_1t_b1'], ['wasm', 'gradient_1t_b1']].map(([c, cell]) => f1(med(m, c, cell))).join(' / ') : ''} |`);
  }
const methodRows = [];
for (const m of models)
  for (const method of methods) {
    const c = (config, t) => med(m, config, `${method}_${t}t`);
    const n = torchNotes[m]?.[method] ?? {};
    const note = method === 'lime' ? `PyTorch's SLIC: ${n.segments ?? '?'} segments` : `sigma ${f2(n.sigma)}; PyTorch's faster batch 1t / 2t: ${n.batch_1t ?? '?'} / ${n.batch_2t ?? '?'}`;
    const cf = (t) => med(m, 'native', `${method}_float_${t}t`);
    const ours = method === 'lime' ? `${f0(c('native', 1))} / ${f0(c('native', 2))}`
      : `${f0(cf(1))} / ${f0(cf(2))} (exact ${f0(c('native', 1))} / ${f0(c('native', 2))})`;
    const ratio = method === 'lime' ? `${f2(c('native', 1) / c('torch', 1))} / ${f2(c('native', 2) / c('torch', 2))}`
      : `${f2(cf(1) / c('torch', 1))} / ${f2(cf(2) / c('torch', 2))} (exact ${f2(c('native', 1) / c('torch', 1))} / ${f2(c('native', 2) / c('torch', 2))})`;
    methodRows.push(`| ${m} | ${METHOD_NAMES[method]} | ${ours} | ${f0(c('torch', 1))} / ${f0(c('torch', 2))} | ${ratio} | ${note} |`);
  }
const md = [
  '## 224x224 classifiers: ours against onnxruntime-web and PyTorch (`node bench/large.mjs`)',
  '',
  `- machine: ${machine.cpu}, ${machine.cores} cores (${machine.flags.join(', ')}), ${machine.mem_gib} GiB; node ${machine.node}`,
  `- load average (1/5/15 min): ${machine.load_before} at start, ${machine.load_after} at end`,
  `- commit: ${machine.commit}; ${machine.date}; ${args.rounds} round(s) of ${runs} runs` +
    (methods.length ? ` and ${methodRuns} explanation(s) per method` : '') + `, ${Math.round((Date.now() - started) / 1000)} s`,
  '- torchvision architectures, seeded random weights (torch.manual_seed(0)), ONNX opset 17; inputs uniform [0, 1]; ms per image, medians',
  `- wasm: ${fma.available ? `FMA = cnnlens-fma.js (simd-fma, node ${fma.flags.join(' ') || 'without a flag'}), SIMD128 = cnnlens.js` : `SIMD128 = cnnlens.js; FMA n/a: ${fma.why}`}`,
  '',
  '| model | batch | ours native 1t / 2t | ours wasm 1t (node): FMA / SIMD128 | onnxruntime-web 1t / 2t (node) | PyTorch frozen 1t / 2t | ours wasm / ORT 1t: FMA / SIMD128 | ours native / PyTorch 1t / 2t | input gradient 1t: native float32 / exact tape; PyTorch eager; wasm FMA float32 / exact; wasm SIMD128 float32 / exact |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  ...(methods.length ? [
    'Explanations of skimage\'s astronaut at 224x224 (ImageNet normalization), our defaults on both sides (bench/torch_large.py spells them out); ms per explanation, medians:',
    '',
    '| model | method | ours native 1t / 2t | PyTorch 1t / 2t | ours / PyTorch 1t / 2t | notes |',
    '|---|---|---|---|---|---|',
    ...methodRows,
    '',
  ] : []),
  '| result | target | measured (per model) | limit |',
  '|---|---|---|---|',
  ...targets.map((t) => `| ${t.pass ? 'PASS' : 'FAIL'} | ${t.text} | ${Object.entries(t.ratios).map(([k, v]) => `${k} ${f2(v)}`).join(', ')}` +
    `${t.also ? ` (SIMD128 build: ${Object.values(t.also.ratios).map(f2).join(', ')})` : ''}` +
    `${t.exact ? ` (exact tape, the default: ${Object.values(t.exact).map(f2).join(', ')})` : ''} | <= ${f2(t.max)} |`),
  '',
].join('\n');
writeResults(path.resolve(ROOT, args.out), 'large', { machine, fma, methods, method_runs: Number(methodRuns), torch_method_notes: torchNotes, samples, targets }, md);

// Whether this node runs the FMA CLI: it must report the simd-fma kernel set on the bundled model.
// Node 20 needs --experimental-wasm-relaxed-simd; a node with relaxed SIMD on by default may not
// know the flag any more, so it is also tried without.
function probeFma() {
  const js = path.join(ROOT, args['wasm-fma']);
  if (!fs.existsSync(js)) return { available: false, why: `${args['wasm-fma']} is not built (cmake --build build/wasm --target cnnlens_fma)` };
  let why = '';
  for (const flags of [['--experimental-wasm-relaxed-simd'], []]) {
    const p = spawnSync('node', ['--no-experimental-fetch', ...flags, js, 'bench', '--runs', '1', '--warmup', '0', '--json'],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 22 });
    const line = (p.stdout || '').trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
    const kernels = line ? JSON.parse(line).kernels : null;
    if (p.status === 0 && kernels === 'simd-fma') return { available: true, flags };
    why = kernels ? `it ran kernels ${kernels}` : `node ${process.version} cannot run it (${(p.stderr || '').trim().split('\n')[0].slice(0, 160)})`;
  }
  return { available: false, why };
}
