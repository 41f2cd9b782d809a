// Service worker: after the first visit the whole site (page, wasm, models, example) is served
// from the cache, so the app works offline. Same-origin GETs only; everything else passes.
const kCache = 'cnnlens-v1';
const kSite = ['./', 'index.html', 'loader.js', 'app.css', 'app.js', 'app.wasm',
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

// Network first (a rebuilt site is picked up at once), the cache when offline.
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) { const copy = r.clone(); caches.open(kCache).then((c) => c.put(e.request, copy)); }
    return r;
  }).catch(() => caches.match(e.request)));
});
