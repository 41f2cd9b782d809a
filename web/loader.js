// Loads cnnlens: checks WebGL2, picks the build (threaded only when the page is cross-origin
// isolated and a threaded build exists), fetches the bundled models into the wasm file system,
// starts the app, and bridges files (drop anywhere, picker, Ctrl+V paste, examples) into it.
// Also defines window.cnnlensTest, the documented test hook (see wasm/README.md).

const kBuilds = { single: './app.js', threaded: null };  // threaded: app-mt.js once built
const kModels = {
  '/models/fer2013-mini-xception': ['cnnlens.json', 'emotion.json', 'emotion.bin'],
  '/models/blazeface': ['blazeface.json', 'blazeface.bin'],
};

const statusEl = document.getElementById('status');
const canvas = document.getElementById('canvas');
const fileInput = document.getElementById('file-input');
let app = null;

function showStatus(text) { statusEl.textContent = text; statusEl.hidden = !text; }

function chooseBuild() {
  if (self.crossOriginIsolated && kBuilds.threaded) return kBuilds.threaded;
  return kBuilds.single;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

// Hands a file's bytes to the app, which decodes it in its next frame (errors show in the UI).
async function openFile(blob, name) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const p = app._malloc(Math.max(1, bytes.length));
  app.HEAPU8.set(bytes, p);  // HEAPU8 read after malloc: memory growth replaces the view
  app.ccall('cnnlens_open_file', null, ['number', 'number', 'string'], [p, bytes.length, name || 'photo']);
}

const kCursors = ['default', 'text', 'move', 'ns-resize', 'ew-resize', 'nesw-resize', 'nwse-resize',
  'pointer', 'not-allowed'];

window.cnnlensPlatform = {
  openFileDialog() { fileInput.value = ''; fileInput.click(); },
  openExample(path) {
    fetch(path).then((r) => r.blob()).then((b) => openFile(b, path.split('/').pop()))
      .catch((e) => console.error(`cnnlens: ${path}: ${e.message}`));
  },
  setCursor(shape) {
    const c = shape < 0 ? 'none' : kCursors[shape] || 'default';
    if (canvas.style.cursor !== c) canvas.style.cursor = c;
  },
};

function installFileBridge() {
  document.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer && e.dataTransfer.files[0];
    if (f) openFile(f, f.name);
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData ? e.clipboardData.items : [])].find((i) => i.type.startsWith('image/'));
    const f = item && item.getAsFile();
    if (f) { e.preventDefault(); openFile(f, f.name || 'pasted image'); }
  });
  fileInput.addEventListener('change', () => {
    const f = fileInput.files[0];
    if (f) openFile(f, f.name);
  });
  canvas.addEventListener('mousedown', () => canvas.focus());
}

function untilFrame(pred) {
  return new Promise((resolve) => {
    const tick = () => (pred() ? resolve() : requestAnimationFrame(tick));
    tick();
  });
}

async function boot() {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) throw new Error('This browser has no WebGL2, which cnnlens needs to draw its interface.');
  const build = chooseBuild();
  const [factory, files] = await Promise.all([
    import(build),
    Promise.all(Object.entries(kModels).flatMap(([dir, names]) =>
      names.map(async (n) => [`${dir}/${n}`, await fetchBytes(`.${dir}/${n}`)]))),
  ]);
  app = await factory.default({
    canvas,
    print: (t) => console.log(t),
    printErr: (t) => console.warn(t),
  });
  for (const dir of Object.keys(kModels)) app.FS.mkdirTree(dir);
  for (const [path, bytes] of files) app.FS.writeFile(path, bytes);
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
  faces: () => JSON.parse(app.UTF8ToString(app._cnnlens_test_faces())),
  lastMap() {
    const w = app._cnnlens_test_map_width(), h = app._cnnlens_test_map_height();
    if (!w || !h) return null;
    const p = app._cnnlens_test_map_values() >> 2;
    return { method: app.UTF8ToString(app._cnnlens_test_map_method()), width: w, height: h,
      values: app.HEAPF32.slice(p, p + w * h) };
  },
  error: () => app.UTF8ToString(app._cnnlens_test_error()),
  frames: () => app._cnnlens_test_frames(),
  photoVersion: () => app._cnnlens_test_photo_version(),
  // Resolves when nothing is pending: no photo waiting, no job running, overlay drawn.
  idle: () => untilFrame(() => !app._cnnlens_test_busy()),
  // Runs a method with its defaults on the selected face, as the Explain button does.
  async explain(method) {
    if (!app.ccall('cnnlens_test_explain', 'number', ['string'], [method])) throw new Error(`unknown method ${method}`);
    const f0 = app._cnnlens_test_frames();
    await untilFrame(() => app._cnnlens_test_frames() > f0 + 1);
    await this.idle();
    return this.lastMap();
  },
  // PNG bytes of the selected face's crop (what the classifier and the methods see).
  faceCropPng() {
    const n = app._cnnlens_test_face_png_size();
    const p = app._cnnlens_test_face_png_data();
    return app.HEAPU8.slice(p, p + n);
  },
};
