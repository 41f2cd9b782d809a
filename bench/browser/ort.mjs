// The onnxruntime-web side of bench/large_browser.mjs: sets up onnxruntime-web 1.20 (the wasm
// build: wasm execution provider, its one SIMD binary) with ?threads=N threads, creates a session
// on /bench-model/<?model> (the benchmark answers that address with the ONNX file our page gets)
// and exposes window.ortBench for playwright:
//   ready: Promise of {version, threads, asked_threads, crossOriginIsolated, input, output,
//     hardware_concurrency}, where threads is the count onnxruntime-web started with: it reads
//     env.wasm.numThreads back after the session exists, because onnxruntime-web sets it to 1
//     when the page cannot share memory (not cross-origin isolated), and starts threads - 1
//     pthread workers (the benchmark counts them too);
//   forward(batch, samples): ms per image of `samples` single passes at `batch`, each one awaited
//     session.run (its outputs are then on the CPU, as ours are); the input [N, 3, 224, 224] is
//     uniform [0,1] (xorshift, seed 42, as bench/ort_node.mjs), made once per batch size.
import * as ort from '../../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

const kDist = '../../node_modules/onnxruntime-web/dist/';
const params = new URLSearchParams(location.search);
const threads = Number(params.get('threads') || 1);
const modelName = params.get('model');

let session = null;
const inputs = new Map();

function uniformInput(n, side) {
  const data = new Float32Array(n * 3 * side * side);
  let seed = 42;
  for (let i = 0; i < data.length; ++i) {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    data[i] = (seed >>> 0) / 4294967296;
  }
  return new ort.Tensor('float32', data, [n, 3, side, side]);
}

async function setUp() {
  if (!modelName) throw new Error('ort.html: no ?model=NAME');
  ort.env.wasm.wasmPaths = new URL(kDist, location.href).href;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.proxy = false;
  session = await ort.InferenceSession.create(`/bench-model/${modelName}`,
    { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  return {
    version: ort.env.versions?.web ?? '?', threads: ort.env.wasm.numThreads, asked_threads: threads,
    crossOriginIsolated: self.crossOriginIsolated === true, input: session.inputNames[0],
    output: session.outputNames[0], hardware_concurrency: navigator.hardwareConcurrency,
  };
}

window.ortBench = {
  ready: setUp(),
  async forward(batch, samples) {
    if (!inputs.has(batch)) inputs.set(batch, { [session.inputNames[0]]: uniformInput(batch, 224) });
    const feeds = inputs.get(batch), out = [];
    for (let s = 0; s < samples; ++s) {
      const t0 = performance.now();
      const r = await session.run(feeds);
      out.push((performance.now() - t0) / batch);
      for (const t of Object.values(r)) t.dispose();
    }
    return out;
  },
};
