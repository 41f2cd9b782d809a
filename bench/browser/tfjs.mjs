// The TF.js side of bench/browser.mjs (loaded by tfjs.html after the UMD bundles defined `tf` and
// `tf.wasm`): sets up the wasm backend with ?threads=N threads, loads the bundled FER2013 graph
// model and exposes window.tfjsBench for playwright:
//   ready: Promise of {version, backend, simd, multithread, threads, crossOriginIsolated,
//     hardware_concurrency}, where threads is what XNNPACK's pool really got
//     (tf.wasm.getThreadsCount(), read back from the wasm after init) and multithread says
//     whether the threaded SIMD binary was loaded (TF.js picks it only when SharedArrayBuffer
//     works, i.e. on a cross-origin isolated page);
//   forward(batch, samples): ms per image of `samples` single passes at `batch`, each
//     model.execute + dataSync (the read-back of the 7 probabilities), as bench/compare.mjs does
//     under node; the input is uniform [0,1] with seed 42, made once per batch size.
const kDist = '../../node_modules/@tensorflow/tfjs-backend-wasm/dist/';
const kModel = '../../models/fer2013-mini-xception/emotion.json';
const threads = Number(new URLSearchParams(location.search).get('threads') || 1);

let model = null, inputName = null;
const inputs = new Map();

// TF.js 4.22 caps its pool at navigator.hardwareConcurrency / 2 (init_with_threads_count in its
// backend.cc assumes two hyperthreads per core), so on a 2-core machine setThreadsCount(2) gives
// one thread. To get the asked count, TF.js is shown twice as many logical cores (only when the
// cap would bite; the page reports the value it showed).
function showCoresFor(n) {
  const real = navigator.hardwareConcurrency;
  if (Math.floor(real / 2) >= n) return { real, shown: real };
  Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => 2 * n, configurable: true });
  return { real, shown: 2 * n };
}

async function setUp() {
  const cores = showCoresFor(threads);
  tf.wasm.setWasmPaths(new URL(kDist, location.href).href);
  tf.wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('TF.js: the wasm backend failed to initialise');
  await tf.ready();
  model = await tf.loadGraphModel(kModel);
  inputName = model.inputs[0].name;
  return {
    version: tf.version.tfjs, backend: tf.getBackend(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    multithread: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    threads: tf.wasm.getThreadsCount(), asked_threads: threads,
    crossOriginIsolated: self.crossOriginIsolated === true,
    hardware_concurrency: cores.real, hardware_concurrency_shown: cores.shown,
  };
}

window.tfjsBench = {
  ready: setUp(),
  forward(batch, samples) {
    if (!inputs.has(batch)) inputs.set(batch, tf.randomUniform([batch, 64, 64, 1], 0, 1, 'float32', 42));
    const x = inputs.get(batch), out = [];
    for (let s = 0; s < samples; ++s) {
      const t0 = performance.now();
      const y = model.execute({ [inputName]: x });
      y.dataSync();
      out.push((performance.now() - t0) / batch);
      y.dispose();
    }
    return out;
  },
};
