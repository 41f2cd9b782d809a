// Page-ready benchmark: loads the built site in headless Chromium (Debian's, via playwright-core)
// from a loopback server, each time in a fresh browser context (empty cache, service worker
// blocked), and measures the time from navigation start until window.cnnlensTest.ready resolves
// (wasm compiled, both models loaded, first frames drawn); then the time to open the astronaut
// photo (decode, face detection, classification). Prints a table; writes bench/out/page.json.
// Usage: node bench/page.mjs [--site build/wasm/site] [--runs 5] [--out bench/out]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serve } from '../tests/e2e/serve.mjs';
import { describeMachine, parseArgs, stats, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs('page.mjs', process.argv.slice(2), { site: 'build/wasm/site', runs: 5, out: 'bench/out' });
const site = path.resolve(ROOT, args.site);
if (!fs.existsSync(path.join(site, 'app.wasm'))) throw new Error(`no built site in ${site}: build the wasm preset first`);

const server = await serve(site);
const origin = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const photo = fs.readFileSync(path.join(ROOT, 'tests/data/astronaut.jpg'));
const ready = [], open = [];
try {
  for (let r = 0; r < Number(args.runs); ++r) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: 'block' });
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => window.cnnlensTest && window.cnnlensTest.ready.then(() => true), null, { timeout: 60000 });
    ready.push(await page.evaluate(() => performance.now()));
    const ms = await page.evaluate(async (data) => {
      const t0 = performance.now();
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], 'astronaut.jpg', { type: 'image/jpeg' }));
      document.getElementById('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      const v0 = window.cnnlensTest.photoVersion();
      while (window.cnnlensTest.photoVersion() === v0) await new Promise((res) => requestAnimationFrame(res));
      return performance.now() - t0;
    }, Array.from(photo));
    open.push(ms);
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
const wasmBytes = fs.statSync(path.join(site, 'app.wasm')).size;
const result = { machine: describeMachine(ROOT), runs: Number(args.runs), wasm_bytes: wasmBytes, ready_ms: stats(ready), open_photo_ms: stats(open) };
writeResults(path.resolve(ROOT, args.out), 'page', result);
const f = (s) => `${s.median.toFixed(0)} ms [${s.min.toFixed(0)}–${s.max.toFixed(0)}]`;
console.log(`app.wasm ${(wasmBytes / 1e6).toFixed(2)} MB; page ready ${f(result.ready_ms)}; astronaut photo opened (detect + classify) ${f(result.open_photo_ms)}; ${args.runs} cold loads`);
