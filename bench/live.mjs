// Live mode's benchmark: the built site in headless Chromium with a fake camera (the astronaut
// photo panning and zooming, tests/e2e/live_camera.mjs), both builds (single-threaded from a
// plain server, threaded with COOP/COEP), each with saliency and with Grad-CAM: frames processed
// per second, frames the page drew per second meanwhile, the delay from a camera frame to the
// first page frame that drew its overlay, and ms per stage. Prints the table (README, and
// docs/performance.md); writes bench/out/live.json.
// Usage: node bench/live.mjs [--site build/wasm/site] [--seconds 8] [--out bench/out]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPage, waitReady } from '../tests/e2e/harness.mjs';
import { kLiveTableHeader, launchWithCamera, liveOn, liveRow, measureIdle, measureLive } from '../tests/e2e/live_camera.mjs';
import { serve } from '../tests/e2e/serve.mjs';
import { describeMachine, parseArgs, writeResults } from './common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs('live.mjs', process.argv.slice(2), { site: 'build/wasm/site', seconds: 8, out: 'bench/out' });
const site = path.resolve(ROOT, args.site);
if (!fs.existsSync(path.join(site, 'app-mt.wasm'))) throw new Error(`no built site in ${site}: build the wasm preset first`);

const load0 = os.loadavg();
const browser = await launchWithCamera('accept');
const results = [], rows = [];
let software = null;  // WebGL rasterized on the CPU (SwiftShader): frames cost CPU time
try {
  for (const build of ['st', 'mt']) {
    const server = await serve(site, { isolate: build === 'mt' });
    const origin = `http://127.0.0.1:${server.address().port}`;
    const { page } = await openPage(browser, origin);
    await page.goto(`${origin}/`);
    await waitReady(page);
    const got = await page.evaluate(() => window.cnnlensTest.build);
    if (got !== build) throw new Error(`expected the ${build} build, the page runs ${got}`);
    software = await page.evaluate(() => window.cnnlensTest.softwareWebgl);
    const idle = await measureIdle(page);
    results.push({ build, method: 'off', idle });
    rows.push(`| ${build} | Live off | | ${idle.drawFps.toFixed(1)} | ${idle.paintFps.toFixed(1)} | | | | | | | |`);
    console.error(`live: ${rows.at(-1)}`);
    await liveOn(page);
    for (const method of ['saliency', 'gradcam']) {
      const r = await measureLive(page, method, 1000 * Number(args.seconds));
      results.push({ build, ...r });
      rows.push(liveRow(build, r));
      console.error(`live: ${rows.at(-1)}`);
    }
    await page.context().close();
    server.close();
  }
} finally {
  await browser.close();
}
// The machine's load decides these numbers on a shared 2-core machine: it goes with the table.
const load = (l) => l.map((v) => v.toFixed(2)).join(' ');
const machine = describeMachine(ROOT);
writeResults(path.resolve(ROOT, args.out), 'live', { machine, seconds: Number(args.seconds), load: [os.loadavg(), load0], software, results },
  `${machine.cpu}, ${machine.cores} cores; WebGL ${software ? 'in software (SwiftShader)' : 'on a GPU'}; load average (1/5/15 min) ${load(load0)} at start, ${load(os.loadavg())} at end; ` +
  `${args.seconds} s per row\n\n${kLiveTableHeader}\n${rows.join('\n')}\n`);
