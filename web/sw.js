// Service worker: after the first visit the whole site (page, both builds, models, example) is
// served from the cache, so the app works offline. It also makes the page cross-origin isolated
// on hosts that cannot send headers: every response it serves carries COOP/COEP, which lets the
// loader pick the threaded build (loader.js reloads once after the worker takes control).
// Same-origin GETs only; everything else passes.
const kCache = 'cnnlens-v5';
const kSite = ['./', 'index.html', 'loader.js', 'live.js', 'photo-format.js', 'decode-worker.js', 'app.css',
  'models/fer2013-mini-xception/cnnlens.json', 'models/fer2013-mini-xception/emotion.json',
  'models/fer2013-mini-xception/emotion.bin', 'models/blazeface/blazeface.json',
  'models/blazeface/blazeface.bin', 'examples/astronaut.jpg'];
// Both builds (single-threaded and threaded) as this browser runs them: where it has relaxed SIMD
// (loader.js, relaxedSimd: the same one-instruction module) the FMA module of each that has one
// (fma-builds.json: {plain script: its FMA module's files}), else the plain files. (A page that
// asks for the other flavour, ?fma=0, caches it as it fetches it.)
const kPlainBuilds = { 'app.js': ['app.js', 'app.wasm'], 'app-mt.js': ['app-mt.js', 'app-mt.wasm', 'app-mt.worker.js'] };
const kRelaxedMaddModule = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b]);

async function buildFiles() {
  let fma = {};
  try {
    if (WebAssembly.validate(kRelaxedMaddModule)) fma = await (await fetch('fma-builds.json')).json();
  } catch {}
  return Object.entries(kPlainBuilds).flatMap(([script, files]) => fma[script] || files);
}

self.addEventListener('install', (e) => {
  e.waitUntil(Promise.all([caches.open(kCache), buildFiles()])
    .then(([c, builds]) => c.addAll([...kSite, 'fma-builds.json', ...builds])).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== kCache).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The response with the two headers that make a page cross-origin isolated. require-corp (not
// credentialless, which only Chromium knows) suffices: every resource is same-origin.
function isolated(r) {
  if (!r || r.status === 0) return r;  // nothing cached, or an opaque response
  const headers = new Headers(r.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(r.body, { status: r.status, statusText: r.statusText, headers });
}

// Network first (a rebuilt site is picked up at once), the cache when offline.
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) { const copy = r.clone(); caches.open(kCache).then((c) => c.put(e.request, copy)); }
    return isolated(r);
  }).catch(() => caches.match(e.request).then(isolated)));
});
