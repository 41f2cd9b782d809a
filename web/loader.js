// Loads cnnlens: checks WebGL2, picks the build (the threaded one only when the page is
// cross-origin isolated, else the single-threaded one; each with FMA kernels where the browser
// has relaxed SIMD; see chooseBuild), fetches the bundled
// models into the wasm file system, starts the app, and bridges files (drop anywhere, picker,
// Ctrl+V paste, examples) into it. On hosts that send no COOP/COEP headers, the service worker
// (sw.js) adds them and the loader reloads the page once to get isolation (isolateWithWorker).
// Photos the engine cannot read, and large JPEGs and PNGs, are decoded by the browser in a worker
// (decode-worker.js) and handed over as pixels (see routePhoto). Also defines
// window.cnnlensTest, the documented test hook (see docs/app-internals.md).

// The single-threaded app runs long jobs in slices between frames (Asyncify); the threaded one
// (pthreads: app-mt.js, app-mt.wasm, app-mt.worker.js) runs them on a worker thread. The site may
// also hold each with its kernels' multiply-adds as relaxed SIMD's f32x4.relaxed_madd
// (app-mt-fma.*, app-fma.*; kernel set "simd-fma"), for browsers that have it; fma-builds.json
// lists those it holds: {plain script: [the FMA module's files, script first]}.
import { kSniffBytes, sniffPhoto } from './photo-format.js';
import { createLive } from './live.js';

const kBuilds = { single: './app.js', threaded: './app-mt.js' };
const kModels = {
  '/models/fer2013-mini-xception': ['cnnlens.json', 'emotion.json', 'emotion.bin'],
  '/models/blazeface': ['blazeface.json', 'blazeface.bin'],
};

const statusEl = document.getElementById('status');
const canvas = document.getElementById('canvas');
const fileInput = document.getElementById('file-input');
let app = null;

// The status line: full-page while the app starts; a banner (over the app) for file progress.
function showStatus(text, banner = false) {
  statusEl.textContent = text;
  statusEl.hidden = !text;
  statusEl.classList.toggle('banner', banner);
}

// A module whose one function is (v128, v128, v128) -> v128: f32x4.relaxed_madd of its three
// parameters (0xfd 0x85 0x02).
const kRelaxedMaddModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b]);

// True when the browser runs relaxed SIMD. The FMA builds hold its instruction, and a module with
// one instruction the engine does not know fails validation as a whole, so they may start only
// then. ?fma=0 in the page's address asks for the plain builds anyway (side-by-side timing).
function relaxedSimd() {
  if (new URLSearchParams(location.search).get('fma') === '0') return false;
  try {
    return WebAssembly.validate(kRelaxedMaddModule);
  } catch {
    return false;
  }
}

// The site's FMA scripts by the plain script each replaces ({} when it has none).
async function fmaBuilds() {
  try {
    const r = await fetch('./fma-builds.json');
    if (!r.ok) return {};
    return Object.fromEntries(Object.entries(await r.json()).map(([plain, files]) => [`./${plain}`, `./${files[0]}`]));
  } catch {
    return {};
  }
}

// The builds to try, best first. Threads need SharedArrayBuffer, which browsers give only to
// cross-origin isolated pages.
async function chooseBuilds() {
  const plain = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function'
    ? [kBuilds.threaded, kBuilds.single] : [kBuilds.single];
  if (!relaxedSimd()) return plain;
  const fma = await fmaBuilds();
  return plain.flatMap((b) => (fma[b] ? [fma[b], b] : [b]));
}

// Cross-origin isolation on hosts that cannot set headers: our service worker adds COOP/COEP to
// every response it serves, but a page is isolated only when its own navigation went through
// the worker. So on a visit no worker controls yet (the first one, or a hard reload) the loader
// registers it, waits until it controls the page, and reloads once; sessionStorage remembers
// the reload for this tab, so a browser that does not isolate even then is not reloaded again.
// Returns true when a reload is under way. Without service workers (private modes, insecure
// origins), when the worker fails, or when it takes too long (it first caches the site), the
// single-threaded app starts instead and the next visit is isolated.
const kReloadedKey = 'cnnlens-reloaded-for-isolation';
const kWorkerWaitMs = 10000;

async function isolateWithWorker() {
  if (self.crossOriginIsolated || !('serviceWorker' in navigator) || !self.isSecureContext ||
      location.protocol === 'file:') return false;
  if (navigator.serviceWorker.controller || sessionStorage.getItem(kReloadedKey)) return false;
  try {
    const controlled = new Promise((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', () => resolve('controlled')));
    const reg = await navigator.serviceWorker.register('sw.js');
    if (!reg) return false;  // (a test browser that blocks service workers)
    const coming = reg.installing || reg.waiting;
    if (coming) {  // a new worker: it takes control once it has cached the site (sw.js)
      showStatus('Loading cnnlens... (setting up threads and the offline cache)');
      const failed = new Promise((resolve) => coming.addEventListener('statechange', () => {
        if (coming.state === 'redundant') resolve('failed');
      }));
      const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), kWorkerWaitMs));
      if (await Promise.race([controlled, failed, timeout]) !== 'controlled') return false;
    } else if (!reg.active) {
      return false;
    }  // else the worker is active already and this navigation bypassed it (a hard reload)
  } catch (e) {
    console.warn(`cnnlens: no service worker: ${e.message}`);
    return false;
  }
  sessionStorage.setItem(kReloadedKey, '1');
  location.reload();
  return true;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// Calls the app's export `name` with these arguments, strings passed as C strings, and returns its
// result. (Emscripten 3.1.6's ccall returns a Promise instead of the value whenever a sliced job
// is asleep in Asyncify, which is most of the time during long work; exports called directly
// return their value.)
function call(name, ...args) {
  const held = [];
  const c = args.map((a) => {
    if (typeof a !== 'string') return a;
    const b = new TextEncoder().encode(a + '\0');
    const p = app._malloc(b.length);
    app.HEAPU8.set(b, p);
    held.push(p);
    return p;
  });
  try {
    return app['_' + name](...c);
  } finally {
    held.forEach((p) => app._free(p));
  }
}

// Hands a file's bytes to the app, which decodes it in its next frame (errors show in the UI).
async function openFile(blob, name) { return openFiles([[blob, name]]); }

// Files at least this large show their reading progress (a model of 15-100 MB takes seconds).
const kProgressBytes = 4 << 20;
const mb = (n) => (n / 1e6).toFixed(1);

// --- Photos: which decoder -----------------------------------------------------------------
// The engine decodes the formats it reads (JPEG, PNG, GIF, BMP, PSD, TGA, PNM: stb_image in wasm,
// the same pixels as the native CLI) at every size: measured in the page, it reaches a large
// JPEG's faces 2.7x (12 MP) to 4x (48 MP) sooner than the browser's decoder, whose decode alone
// took longer than stb_image's, before its pixels were read out through a canvas
// (bench/photos.mjs; docs/performance.md, "Photos in the page"). The browser decodes the
// formats the engine cannot (WebP, AVIF; HEIC where it can) and tries those of unknown format
// first. A photo the browser cannot decode goes to the engine when the engine may read it, so
// that the engine's message names the problem; otherwise the message names the format.

// How the page opens photos: 'auto' (above), or always by the 'engine' or the 'browser' (the
// test hook's setPhotoDecoder, for the benchmark and tests).
let photoDecoder = 'auto';

// {format (null when unknown), engine: the engine may read it, browser: try the browser first}.
function routePhoto(head) {
  const { format, engine } = sniffPhoto(head.subarray(0, kSniffBytes));
  const browser = photoDecoder === 'auto' ? !format || !engine : photoDecoder === 'browser';
  return { format, engine, browser };
}

// The decode worker (created on first use) and its pending answers by photo id.
let decoder = null, nextPhotoId = 1;
const decoderWaiting = new Map();
function decoderRequest(id, message, transfer) {
  if (!decoder) {
    decoder = new Worker('decode-worker.js');
    decoder.onmessage = ({ data }) => {
      const resolve = decoderWaiting.get(data.id);
      decoderWaiting.delete(data.id);
      if (resolve) resolve(data);
    };
  }
  return new Promise((resolve) => {
    decoderWaiting.set(id, resolve);
    decoder.postMessage(message, transfer || []);
  });
}

// What the page measured of the last photo it opened, ms per stage (cnnlensTest.photoTimings).
let photoTimings = {};
// Drops (or picks, pastes) being read or decoded here, before the app has all their buffers.
let filesInFlight = 0;

// Files dropped or picked together ([blob, name] pairs) reach the app in the same frame, so
// a model.json and its .bin shards are loaded as one model (the app routes them by extension).
// Photos the browser decodes are decoded first; one it cannot decode is reported (or, when the
// engine may read it, handed over as a file) and the others go on. The app then gives a buffer
// for each file, or for each decoded photo's pixels (cnnlens_file_buffer, cnnlens_pixels_buffer:
// it refuses, with a message naming the sizes, what its memory or the photo limits cannot hold,
// before anything is allocated); each file is streamed into its buffer, so a large model is never
// held twice and the page shows how far reading has come while frames go on; the pixels are read
// out of the browser's decoder and copied in; then all are marked complete and opened.
async function openFiles(list) {
  ++filesInFlight;
  try {
    await openFilesNow(list);
  } finally {
    --filesInFlight;
  }
}

async function openFilesNow(list) {
  const t0 = performance.now();
  const items = await Promise.all(list.map(async ([blob, name]) => {
    name = name || 'photo';
    // A file under kProgressBytes is read whole at once (each step of a stream waits for the
    // event loop, where a frame may be drawing); a larger one is streamed into the app below.
    const data = blob.size < kProgressBytes ? new Uint8Array(await blob.arrayBuffer()) : null;
    if (!call('cnnlens_file_is_photo', name)) return { blob, name, data };
    const route = routePhoto(data || new Uint8Array(await blob.slice(0, kSniffBytes).arrayBuffer()));
    if (!route.browser) return { blob, name, data };
    const id = nextPhotoId++;
    const size = await decoderRequest(id, { id, blob });
    if (!size.error) return { blob, name, id, width: size.width, height: size.height, decodeMs: performance.now() - t0 };
    if (route.engine) return { blob, name, data };  // the engine's decoder, and its message if it fails too
    call('cnnlens_report_error', `image '${name}': this browser could not decode it as ${route.format} (${size.error}); ` +
      'cnnlens itself reads JPEG, PNG, GIF, BMP, PSD, TGA and PNM: convert the photo to one of those');
    return null;
  }));
  const files = items.filter((f) => f);
  const forget = (f) => f.id && decoderRequest(f.id, { id: f.id, go: false });
  for (let i = 0; i < files.length; ++i) {
    const f = files[i];
    f.p = f.id ? call('cnnlens_pixels_buffer', f.width, f.height, f.name) : call('cnnlens_file_buffer', f.blob.size, f.name);
    if (!f.p) {  // refused: the app shows why; the files of this drop are dropped together
      for (const g of files.slice(0, i)) app._cnnlens_file_complete(g.p, 1);
      files.forEach(forget);
      return;
    }
  }
  const total = files.reduce((n, f) => n + (f.id || f.data ? 0 : f.blob.size), 0);
  const names = files.map((f) => f.name).join(', ');
  const big = total >= kProgressBytes;
  let read = 0;
  const timings = {};
  try {
    for (const f of files) {
      if (f.id) {
        const t1 = performance.now();
        const out = await decoderRequest(f.id, { id: f.id, go: true });
        if (out.error) throw new Error(`${f.name}: ${out.error}`);
        const t2 = performance.now();
        app.HEAPU8.set(new Uint8Array(out.pixels), f.p);  // HEAPU8 read now: memory growth replaces the view
        Object.assign(timings, { browserDecode: f.decodeMs, pixelsOut: t2 - t1, copyIn: performance.now() - t2 });
        continue;
      }
      if (f.data) {
        app.HEAPU8.set(f.data, f.p);
        timings.read = performance.now() - t0;
        continue;
      }
      const reader = f.blob.stream().getReader();
      for (let off = 0; ;) {
        const { value, done } = await reader.read();
        if (done) break;
        app.HEAPU8.set(value, f.p + off);  // HEAPU8 read each time: memory growth replaces the view
        off += value.length;
        read += value.length;
        if (big) showStatus(`Reading ${names}: ${mb(read)} of ${mb(total)} MB`, true);
      }
      timings.read = performance.now() - t0;
    }
  } catch (e) {
    for (const f of files) app._cnnlens_file_complete(f.p, 1);
    showStatus('');
    call('cnnlens_report_error', e.message);
    return;
  }
  photoTimings = timings;
  if (big) {  // painted before the frame that builds the model (that frame blocks the page)
    showStatus(`Loading ${names} (${mb(total)} MB)...`, true);
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  }
  for (const f of files) app._cnnlens_file_complete(f.p, 0);
  if (big) {
    await untilFrame(() => !app._cnnlens_files_waiting());
    showStatus('');
  }
}

const kCursors = ['default', 'text', 'move', 'ns-resize', 'ew-resize', 'nesw-resize', 'nwse-resize',
  'pointer', 'not-allowed'];

window.cnnlensPlatform = {
  openFileDialog() { fileInput.value = ''; fileInput.click(); },
  openExample(path) {
    fetch(path).then((r) => r.blob()).then((b) => openFile(b, path.split('/').pop()))
      .catch((e) => console.error(`cnnlens: ${path}: ${e.message}`));
  },
  // A download of bytes the app made (exports); `bytes` is a copy, never a view of wasm memory.
  download(name, mime, bytes) {
    const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  },
  setCursor(shape) {
    const c = shape < 0 ? 'none' : kCursors[shape] || 'default';
    if (canvas.style.cursor !== c) canvas.style.cursor = c;
  },
};

// Live mode's camera, frames and recording (live.js); the app reaches it as window.cnnlensLive.
window.cnnlensLive = createLive({ canvas, getApp: () => app, call, download: (...a) => window.cnnlensPlatform.download(...a) });

// Emscripten's GLFW listens for keys on window (capture) and calls preventDefault on Backspace
// and Tab. Keys aimed at another element of the page (an input, a button of an embedding page)
// are kept from it; keys for the app keep the browser from acting on the app's shortcuts
// (Ctrl+O open, Ctrl+S save page, Ctrl+Shift+E). Must run before the app's glfwInit.
function installKeyGuard() {
  const forApp = (e) => e.target === canvas || e.target === document.body || e.target === document.documentElement;
  const shortcut = (e) => (e.ctrlKey || e.metaKey) && !e.altKey &&
    (['o', 's'].includes(e.key.toLowerCase()) || (e.shiftKey && e.key.toLowerCase() === 'e'));
  for (const type of ['keydown', 'keypress']) {
    window.addEventListener(type, (e) => {
      if (!forApp(e)) e.stopImmediatePropagation();
      else if (type === 'keydown' && shortcut(e)) e.preventDefault();
    }, true);
  }
}

function installFileBridge() {
  document.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const files = e.dataTransfer ? [...e.dataTransfer.files] : [];
    if (files.length) openFiles(files.map((f) => [f, f.name]));
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith('image/'));
    const f = item && item.getAsFile();
    if (f) { e.preventDefault(); openFile(f, f.name || 'pasted image'); }
  });
  fileInput.addEventListener('change', () => {
    const files = [...fileInput.files];
    if (files.length) openFiles(files.map((f) => [f, f.name]));
  });
  canvas.addEventListener('mousedown', () => canvas.focus());
}

function untilFrame(pred) {
  return new Promise((resolve) => {
    const tick = () => (pred() ? resolve() : requestAnimationFrame(tick));
    tick();
  });
}

// The build that started (its script's name), for the test hook.
let startedBuild = null;

// Instantiates the first of `builds` that starts: the threaded one may not (e.g. its fixed 1 GB of
// shared memory is refused), and an FMA build may be missing from a site built without them.
async function startBuild(builds) {
  const options = { canvas, print: (t) => console.log(t), printErr: (t) => console.warn(t) };
  for (const [i, build] of builds.entries()) {
    try {
      const started = await (await import(build)).default(options);
      startedBuild = build;
      return started;
    } catch (e) {
      if (i + 1 === builds.length) throw e;
      console.warn(`cnnlens: ${build} did not start (${e.message}); trying ${builds[i + 1]}`);
    }
  }
}

async function boot() {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) throw new Error('This browser has no WebGL2, which cnnlens needs to draw its interface.');
  if (await isolateWithWorker()) return new Promise(() => {});  // the page reloads
  const [started, files] = await Promise.all([
    chooseBuilds().then(startBuild),
    Promise.all(Object.entries(kModels).flatMap(([dir, names]) =>
      names.map(async (n) => [`${dir}/${n}`, await fetchBytes(`.${dir}/${n}`)]))),
  ]);
  app = started;
  for (const dir of Object.keys(kModels)) app.FS.mkdirTree(dir);
  for (const [path, bytes] of files) app.FS.writeFile(path, bytes);
  installKeyGuard();
  installFileBridge();
  app.callMain([]);
  await untilFrame(() => app._cnnlens_test_ready());
  showStatus('');
  canvas.focus();
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('sw.js').catch((e) => console.warn(`cnnlens: no offline cache: ${e.message}`));
  }
}

const ready = boot().catch((e) => {
  showStatus(`cnnlens could not start:\n${e.message}`);
  throw e;
});

// The test hook. faces(): [{box: [x, y, w, h] (photo pixels), score, probs: [7], top, wholePhoto}];
// lastMap(): {method, width, height, values: Float32Array} of the map last shown, or null.
window.cnnlensTest = {
  ready,
  // The build that runs: 'mt' (threaded: jobs on a worker thread) or 'st' (single-threaded:
  // jobs in slices between frames); null until the app has started. Asked of the app itself.
  get build() { return app ? (app._cnnlens_test_threads() ? 'mt' : 'st') : null; },
  // The script of the build that runs ('./app-mt-fma.js', ...); null until it has started.
  get buildScript() { return app ? startedBuild : null; },
  // True when WebGL runs in software (SwiftShader), as in headless Chromium without a GPU.
  get softwareWebgl() { return app ? app._cnnlens_test_software_webgl() === 1 : null; },
  // Threads the kernels split their loops over, the job thread included: min(cores - 1, 4) in
  // the threaded build (a core stays with the page), 1 in the single-threaded one.
  get kernelThreads() { return app ? app._cnnlens_test_kernel_threads() : null; },
  // The forward-pass benchmark (bench/browser.mjs; wasm/app/bench_hook.h): `runs` passes of a
  // seeded batch with `threads` kernel threads (clamped to what the build has) ->
  // {ms_per_image (median pass), batch, runs, threads (used), kernels, passes} or {error};
  // `profile` adds nodes: [[name, op, ms per image], ...], slowest first.
  benchForward(batch, runs, threads, profile = false) {
    return JSON.parse(app.UTF8ToString(app._cnnlens_test_bench_forward(batch, runs, threads, profile ? 1 : 0)));
  },
  faces: () => JSON.parse(app.UTF8ToString(app._cnnlens_test_faces())),
  lastMap() {
    const w = app._cnnlens_test_map_width(), h = app._cnnlens_test_map_height();
    if (!w || !h) return null;
    const p = app._cnnlens_test_map_values() >> 2;
    return { method: app.UTF8ToString(app._cnnlens_test_map_method()), width: w, height: h,
      values: app.HEAPF32.slice(p, p + w * h) };
  },
  error: () => app.UTF8ToString(app._cnnlens_test_error()),
  // Bytes the page can still allocate (free heap plus what memory may grow by).
  memoryAvailable: () => app._cnnlens_memory_available(),
  // True while dropped files are being read or decoded, or wait for the next frame to be opened.
  filesWaiting: () => filesInFlight > 0 || !!app._cnnlens_files_waiting(),
  frames: () => app._cnnlens_test_frames(),
  paints: () => app._cnnlens_test_paints(),
  photoVersion: () => app._cnnlens_test_photo_version(),
  // The photo shown: {name, width, height, previewWidth, previewHeight} (upright pixels).
  photo: () => JSON.parse(app.UTF8ToString(app._cnnlens_test_photo())),
  // Who decodes dropped photos: 'auto' (the page's choice: the engine for JPEG, PNG and the other
  // formats it reads, the browser for the rest and for large JPEGs and PNGs), 'engine' or 'browser'.
  setPhotoDecoder(mode) {
    if (!['auto', 'engine', 'browser'].includes(mode)) throw new Error(`unknown photo decoder ${mode}`);
    photoDecoder = mode;
  },
  // What opening the last photo took, ms per stage: the page's (read: the file's bytes;
  // browserDecode, pixelsOut, copyIn: a photo the browser decoded) and the app's (decode: the
  // engine's decoder; rgb: RGBA to RGB; preview: the one downscale; detect; classify; frame:
  // drawing the frame that first showed it, its texture upload included).
  photoTimings: () => ({ ...photoTimings, ...JSON.parse(app.UTF8ToString(app._cnnlens_test_photo_timings())) }),
  // Resolves when nothing is pending: no photo waiting, no job running, overlay drawn.
  idle: () => untilFrame(() => !filesInFlight && !app._cnnlens_test_busy()),
  // Runs a method on the selected face, as the Explain button does, with its defaults or with
  // params overriding them.
  async explain(method, params = {}) {
    this.start(method, params);
    const f0 = app._cnnlens_test_frames();
    await untilFrame(() => app._cnnlens_test_frames() > f0 + 1);
    await this.idle();
    return this.lastMap();
  },
  // The extra panels (wasm/app/panels_hook.cpp): panels(command) runs one command and returns
  // its JSON answer; the helpers below name the common ones.
  panels: (command) => JSON.parse(app.UTF8ToString(call('cnnlens_test_panels', command))),
  // [{node, name, op, shape}] of the layer browser.
  layers() { return this.panels('layers'); },
  // {loaded, running, done, total, matrix: ConfusionMatrix::to_json() or null}.
  confusion() { return this.panels('confusion'); },
  // {mapsLayer, maps: {channels, height, width, ...}, filterLayer, filterTarget, filters: [...]}.
  inside() { return this.panels('inside'); },
  // The Trust section: trust() its state and scores; trust('open'), trust('slow') (the slow
  // scores and the randomization check), trust('cancel'), trust('close') as its header and buttons.
  trust(command = '') { return this.panels(command ? `trust ${command}` : 'trust'); },
  // The layout trace of the last `frames` frames (wasm/app/layout_trace.h): {frame, clipped:
  // [{kind: 'text'|'item', text, window, need, have (pixels), frame}], maps: [{panel, rect:
  // [x, y, w, h], region: [w, h], frame}], zoom: {open, rect}}, in framebuffer pixels.
  layout(frames = 2) { return this.panels(`layout ${frames}`); },
  // Resolves when the extra panels have no job left (filters, confusion, class grid, second map).
  panelsIdle() { return untilFrame(() => !this.panels('state').busy); },
  // The explanation job: {pending, running, progress (0..1), partial, version}.
  job: () => JSON.parse(app.UTF8ToString(app._cnnlens_test_job())),
  // Starts a method as explain() does, without waiting for it; params overrides its defaults.
  start(method, params = {}) {
    if (!call('cnnlens_test_explain', method)) throw new Error(`unknown method ${method}`);
    for (const [k, v] of Object.entries(params)) {
      // The hook takes numbers (a choice by its index): a label would reach the app as NaN.
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`parameter ${k} of ${method} must be a number (a choice by its index), got ${JSON.stringify(v)}`);
      if (!call('cnnlens_test_param', method, k, v)) throw new Error(`method ${method} has no parameter ${k}`);
    }
  },
  // The gradients' precision, 'exact' or 'float', as the Explain panel's radio buttons set it
  // (the next run of a gradient method uses it).
  precision(name) {
    if (!call('cnnlens_test_precision', name)) throw new Error(`precision must be exact or float, got ${name}`);
  },
  // Cancels the running job (as Esc and the Cancel button do).
  cancel: () => app._cnnlens_test_cancel(),
  // PNG bytes of the selected face's crop (what the classifier and the methods see).
  faceCropPng() {
    const n = app._cnnlens_test_face_png_size();
    const p = app._cnnlens_test_face_png_data();
    return app.HEAPU8.slice(p, p + n);
  },
  // PNG bytes of the photo (after Freeze: the frozen camera frame, as the app holds it).
  photoPng() {
    const n = app._cnnlens_test_photo_png_size();
    const p = app._cnnlens_test_face_png_data();
    return app.HEAPU8.slice(p, p + n);
  },
  // Live mode (docs/app-internals.md): live() its state, the last processed frame's faces and the
  // stats; liveMap(k) the map of face k of that frame ({method, cls, width, height, values});
  // liveCropPng(k) the crop it was computed on; liveMethod(name, params) picks the method and
  // its parameters as the Live view's widgets do; liveTracks() the camera tracks' states.
  live: () => JSON.parse(app.UTF8ToString(app._cnnlens_test_live())),
  liveMap(k) {
    const n = app._cnnlens_test_live_map(k);
    if (!n) return null;
    const info = JSON.parse(app.UTF8ToString(app._cnnlens_test_live_map_info()));
    const p = app._cnnlens_test_live_map_values() >> 2;
    return { ...info, values: app.HEAPF32.slice(p, p + n) };
  },
  liveCropPng(k) {
    const n = app._cnnlens_test_live_crop_png_size(k);
    const p = app._cnnlens_test_face_png_data();
    return app.HEAPU8.slice(p, p + n);
  },
  liveMethod(method, params = {}) {
    if (!call('cnnlens_test_live_method', method)) throw new Error(`${method} is not a method Live offers`);
    for (const [k, v] of Object.entries(params)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`parameter ${k} of ${method} must be a number, got ${JSON.stringify(v)}`);
      if (!call('cnnlens_test_param', method, k, v)) throw new Error(`method ${method} has no parameter ${k}`);
    }
  },
  liveTracks: () => window.cnnlensLive.trackStates(),
};
