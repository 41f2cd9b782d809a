// Service worker: after the first visit the whole site (page, both builds, models, example) is
// served from the cache, so the app works offline. It also makes the page cross-origin isolated
// on hosts that cannot send headers: every response it serves carries COOP/COEP, which lets the
// loader pick the threaded build (loader.js reloads once after the worker takes control).
// Same-origin GETs only; everything else passes.
const kCache = 'cnnlens-v4';
const kSite = ['./', 'index.html', 'loader.js', 'live.js', 'photo-format.js', 'decode-worker.js', 'app.css', 'app.js', 'app.wasm',
  'app-mt.js', 'app-mt.wasm', 'app-mt.worker.js',
  'models/fer2013-mini-xception/cnnlens.json', 'models/fer2013-mini-xception/emotion.json',
  'models/fer2013-mini-xception/emotion.bin', 'models/blazeface/blazeface.json',
  'models/blazeface/blazeface.bin', 'examples/astronaut.jpg'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(kCache).then((c) => c.addAll(kSite)).then(() => self.skipWaiting()));
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
