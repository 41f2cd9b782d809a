// The 224x224 comparison (issue #16): torchvision's resnet18, mobilenet_v2 and efficientnet_b0 with
// seeded random weights, exported to ONNX by bench/torch_large.py, run side by side in one run by
//   - ours natively (`cnnlens bench --model X.onnx`, simd kernels, 1 and 2 threads),
//   - ours in wasm under node (the same CLI built with Emscripten, one thread),
//   - onnxruntime-web 1.20 under node (wasm execution provider, SIMD; bench/ort_node.mjs),
//   - PyTorch 1.13 (frozen TorchScript forward, eager input gradient; bench/torch_large.py),
// at batch 1 and 8; medians of --runs passes after warm-up, ms per image. Rounds alternate the
// runtimes so a change of machine load spreads over all of them. onnxruntime-web has no
// gradients: the wasm gradient is compared with our own wasm forward, as the issue asks.
// Prints the table and the targets, writes bench/out/large.json (node bench/summary.mjs reads it).
//   node bench/large.mjs [--models resnet18,mobilenet_v2,efficientnet_b0] [--runs 10] [--rounds 1]
//       [--native build/native-release/cli/cnnlens] [--wasm build/wasm/cli/cnnlens.js]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, parseArgs, stats, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs('large.mjs', process.argv.slice(2), {
  models: 'resnet18,mobilenet_v2,efficientnet_b0', runs: 10, rounds: 1, batches: '1,8',
  native: 'build/native-release/cli/cnnlens', wasm: 'build/wasm/cli/cnnlens.js', dir: 'build/bench-large', out: 'bench/out',
});
const models = args.models.split(','), batches = args.batches.split(',').map(Number), runs = String(args.runs);
const machine = describeMachine(ROOT);
const started = Date.now();
const run = (cmd, argv) => execFileSync(cmd, argv, { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
const lastJson = (text) => JSON.parse(text.trim().split('\n').filter((l) => l.startsWith('{')).at(-1));
for (const f of [args.native, args.wasm])
  if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`large.mjs: ${f} is not built (scripts/test.sh or cmake --build the presets first)`);

// samples[model][config][cell] = [ms per image, ...], cell = `${what}_${threads}t_b${batch}`
const samples = {};
const add = (m, config, cell, v) => (((samples[m] ??= {})[config] ??= {})[cell] ??= []).push(v);
const onnx = (m) => path.join(args.dir, `${m}.onnx`);
run('/usr/bin/python3', ['bench/torch_large.py', '--dir', args.dir, '--models', args.models, '--export-only']);
for (let round = 0; round < Number(args.rounds); ++round) {
  for (const m of models) {
    for (const threads of [1, 2])
      for (const batch of batches) {
        const r = lastJson(run(args.native, ['bench', '--model', onnx(m), '--threads', String(threads), '--batch', String(batch), '--runs', runs, '--json']));
        add(m, 'native', `forward_${threads}t_b${batch}`, r.forward_ms_per_image);
        add(m, 'native', `gradient_${threads}t_b${batch}`, r.gradient_ms_per_image);
      }
    for (const batch of batches) {
      const r = lastJson(run('node', ['--no-experimental-fetch', args.wasm, 'bench', '--model', onnx(m), '--batch', String(batch), '--runs', runs, '--json']));
      add(m, 'wasm', `forward_1t_b${batch}`, r.forward_ms_per_image);
      add(m, 'wasm', `gradient_1t_b${batch}`, r.gradient_ms_per_image);
    }
    for (const threads of [1, 2])
      for (const batch of batches) {
        const r = lastJson(run('node', ['bench/ort_node.mjs', onnx(m), '--threads', String(threads), '--batch', String(batch), '--runs', runs]));
        add(m, 'ort', `forward_${threads}t_b${batch}`, r.ms_per_image);
      }
  }
  const t = lastJson(run('/usr/bin/python3', ['bench/torch_large.py', '--dir', args.dir, '--models', args.models, '--threads', '1,2', '--batches', args.batches, '--runs', runs]));
  for (const [m, r] of Object.entries(t.models)) {
    for (const [k, v] of Object.entries(r.forward)) add(m, 'torch', `forward_${k}`, v);
    for (const [k, v] of Object.entries(r.gradient)) add(m, 'torch', `gradient_${k}`, v);
  }
}
machine.load_after = (await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ');

const med = (m, config, cell) => stats(samples[m]?.[config]?.[cell] ?? [])?.median ?? NaN;
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const f2 = (v) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
// Targets: [text, limit, ratio per model (and cell)], ratio <= limit passes.
const targets = [];
const target = (text, max, ratios) => {
  const ok = Object.values(ratios).every((v) => Number.isFinite(v) && v <= max);
  targets.push({ text, max, ratios, pass: ok });
};
for (const b of batches) {
  target(`wasm forward per image <= 0.5x onnxruntime-web 1.20 (node, 1 thread, batch ${b})`, 0.5,
    Object.fromEntries(models.map((m) => [m, med(m, 'wasm', `forward_1t_b${b}`) / med(m, 'ort', `forward_1t_b${b}`)])));
  for (const t of [1, 2])
    target(`native forward <= 0.6x PyTorch frozen TorchScript (${t} thread${t > 1 ? 's' : ''}, batch ${b})`, 0.6,
      Object.fromEntries(models.map((m) => [m, med(m, 'native', `forward_${t}t_b${b}`) / med(m, 'torch', `forward_${t}t_b${b}`)])));
}
for (const t of [1, 2])
  target(`native input gradient <= 0.5x PyTorch eager (${t} thread${t > 1 ? 's' : ''}, batch 1)`, 0.5,
    Object.fromEntries(models.map((m) => [m, med(m, 'native', `gradient_${t}t_b1`) / med(m, 'torch', `gradient_${t}t_b1`)])));
target('native: two threads at batch 1 take <= 0.59x one thread\'s time (>= 1.7x faster), forward', 1 / 1.7,
  Object.fromEntries(models.map((m) => [m, med(m, 'native', 'forward_2t_b1') / med(m, 'native', 'forward_1t_b1')])));
target('wasm input gradient <= 2.5x our own wasm forward (batch 1; onnxruntime-web has no gradients)', 2.5,
  Object.fromEntries(models.map((m) => [m, med(m, 'wasm', 'gradient_1t_b1') / med(m, 'wasm', 'forward_1t_b1')])));

const rows = [];
for (const m of models)
  for (const b of batches)
    rows.push(`| ${m} | ${b} | ${f1(med(m, 'native', `forward_1t_b${b}`))} / ${f1(med(m, 'native', `forward_2t_b${b}`))} | ${f1(med(m, 'wasm', `forward_1t_b${b}`))} | ${f1(med(m, 'ort', `forward_1t_b${b}`))} / ${f1(med(m, 'ort', `forward_2t_b${b}`))} | ${f1(med(m, 'torch', `forward_1t_b${b}`))} / ${f1(med(m, 'torch', `forward_2t_b${b}`))} | ${f2(med(m, 'wasm', `forward_1t_b${b}`) / med(m, 'ort', `forward_1t_b${b}`))} | ${f2(med(m, 'native', `forward_1t_b${b}`) / med(m, 'torch', `forward_1t_b${b}`))} / ${f2(med(m, 'native', `forward_2t_b${b}`) / med(m, 'torch', `forward_2t_b${b}`))} | ${b === 1 ? `${f1(med(m, 'native', 'gradient_1t_b1'))} / ${f1(med(m, 'torch', 'gradient_1t_b1'))} / ${f1(med(m, 'wasm', 'gradient_1t_b1'))}` : ''} |`);
const md = [
  '## 224x224 classifiers: ours against onnxruntime-web and PyTorch (`node bench/large.mjs`)',
  '',
  `- machine: ${machine.cpu}, ${machine.cores} cores (${machine.flags.join(', ')}), ${machine.mem_gib} GiB; node ${machine.node}`,
  `- load average (1/5/15 min): ${machine.load_before} at start, ${machine.load_after} at end`,
  `- commit: ${machine.commit}; ${machine.date}; ${args.rounds} round(s) of ${runs} runs, ${Math.round((Date.now() - started) / 1000)} s`,
  '- torchvision architectures, seeded random weights (torch.manual_seed(0)), ONNX opset 17; inputs uniform [0, 1]; ms per image, medians',
  '',
  '| model | batch | ours native 1t / 2t | ours wasm 1t (node) | onnxruntime-web 1t / 2t (node) | PyTorch frozen 1t / 2t | ours wasm / ORT 1t | ours native / PyTorch 1t / 2t | input gradient 1t: native / PyTorch eager / wasm |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  '| result | target | measured (per model) | limit |',
  '|---|---|---|---|',
  ...targets.map((t) => `| ${t.pass ? 'PASS' : 'FAIL'} | ${t.text} | ${Object.entries(t.ratios).map(([k, v]) => `${k} ${f2(v)}`).join(', ')} | <= ${f2(t.max)} |`),
  '',
].join('\n');
writeResults(path.resolve(ROOT, args.out), 'large', { machine, samples, targets }, md);
