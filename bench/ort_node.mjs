// onnxruntime-web 1.20 (wasm execution provider, SIMD) under node on one ONNX model: median ms per
// image of the forward pass on a uniform-random input, after warm-up. One process per thread count,
// since onnxruntime-web fixes its thread pool when it first starts. Prints one JSON line.
//   node bench/ort_node.mjs MODEL.onnx --threads 1 --batch 1 --runs 10 [--input image]
import fs from 'node:fs';
import * as ort from 'onnxruntime-web';
import { parseArgs, stats } from './common.mjs';

const [model, ...rest] = process.argv.slice(2);
if (!model || !fs.existsSync(model)) throw new Error(`ort_node.mjs: no model file '${model}'`);
const args = parseArgs('ort_node.mjs', rest, { threads: 1, batch: 1, runs: 10, warmup: 3, input: 'image', size: 224 });
ort.env.wasm.numThreads = Number(args.threads);
ort.env.wasm.simd = true;
const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const n = Number(args.batch), side = Number(args.size);
const data = new Float32Array(n * 3 * side * side);
let seed = 42;
for (let i = 0; i < data.length; ++i) {  // a fixed pseudo-random input (xorshift)
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  data[i] = (seed >>> 0) / 4294967296;
}
const feeds = { [args.input]: new ort.Tensor('float32', data, [n, 3, side, side]) };
for (let i = 0; i < Number(args.warmup); ++i) await session.run(feeds);
const ms = [];
for (let i = 0; i < Number(args.runs); ++i) {
  const t0 = performance.now();
  await session.run(feeds);
  ms.push((performance.now() - t0) / n);
}
const s = stats(ms);
console.log(JSON.stringify({ runtime: 'onnxruntime-web', version: ort.env.versions?.web ?? '1.20', threads: Number(args.threads), batch: n, ms_per_image: s.median, min: s.min, max: s.max, runs: s.n }));
process.exit(0);
