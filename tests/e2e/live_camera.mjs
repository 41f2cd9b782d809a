// Live mode in headless Chromium, shared by tests/e2e/live.test.mjs and bench/live.mjs: the fake
// camera's video (made from the committed astronaut photo by make_live_video.py, never
// committed), Chromium with that video as its camera, turning Live on with its key, and the
// Live stats measured over a span of time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium, root } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The Y4M file Chromium plays as its camera (made once per machine, in the temporary folder).
export function cameraVideo() {
  const file = path.join(os.tmpdir(), 'cnnlens-live-camera.y4m');
  if (!fs.existsSync(file)) {
    execFileSync('/usr/bin/python3', [path.join(root, 'tests/e2e/make_live_video.py'), file + '.part'], { stdio: 'inherit' });
    fs.renameSync(file + '.part', file);
  }
  return file;
}

// Chromium whose camera plays cameraVideo(). `prompt`: 'accept' answers the camera prompt yes
// (--use-fake-ui-for-media-stream); 'default' leaves it to the browser (headless: refused).
export function launchWithCamera(prompt = 'accept') {
  const args = ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${cameraVideo()}`];
  if (prompt === 'accept') args.push('--use-fake-ui-for-media-stream');
  return launchChromium(args);
}

export const live = (page) => page.evaluate(() => window.cnnlensTest.live());

// Waits until `pred(live state)` holds; throws with the state after timeoutMs.
export async function untilLive(page, pred, what, timeoutMs = 30000) {
  const t0 = Date.now();
  for (;;) {
    const l = await live(page);
    if (pred(l)) return l;
    if (Date.now() - t0 > timeoutMs) {
      const error = await page.evaluate(() => window.cnnlensTest.error());
      throw new Error(`${what} not seen within ${timeoutMs} ms: ${JSON.stringify({ ...l, faces: l.faces.length })} (error: ${error})`);
    }
    await sleep(50);
  }
}

// Presses a key for the app (the canvas has the focus, as after a click on it).
export async function pressKey(page, key) {
  await page.focus('#canvas');
  await page.keyboard.press(key);
}

// Turns Live on with its key (L) and waits for the first processed frame.
export async function liveOn(page) {
  await pressKey(page, 'l');
  return untilLive(page, (l) => l.state === 'on' && l.stats.processed > 0, 'Live on with a processed frame');
}

// Live with `method` (its defaults) over `ms`, after `settleMs` for the switch to show:
// processed frames per second, frames the page drew per second, the share of processed frames
// with a face, and the app's smoothed stats (ms per stage, camera-to-overlay delay) at the end.
export async function measureLive(page, method, ms = 6000, settleMs = 1500) {
  await page.evaluate((m) => window.cnnlensTest.liveMethod(m), method);
  await sleep(settleMs);
  const count = () => page.evaluate(() => ({ frames: window.cnnlensTest.frames(), paints: window.cnnlensTest.paints(), live: window.cnnlensTest.live() }));
  const a = await count();
  const t0 = Date.now();
  await sleep(ms);
  const b = await count();
  const s = (Date.now() - t0) / 1000;
  const processed = b.live.stats.processed - a.live.stats.processed;
  return {
    method, seconds: s, processed,
    processedFps: processed / s,
    drawFps: (b.frames - a.frames) / s,
    paintFps: (b.paints - a.paints) / s,
    withFace: processed ? (b.live.stats.withFace - a.live.stats.withFace) / processed : 0,
    stats: b.live.stats,
    faces: b.live.faces,
  };
}

// One table row: rates, delay and the ms per stage (decode: reading the camera frame out and
// into the app, plus RGBA to RGB; upload: the video frame into its texture).
export function liveRow(build, r) {
  const st = r.stats, f = (v, d = 1) => v.toFixed(d);
  return `| ${build} | ${r.method} | ${f(r.processedFps)} | ${f(r.drawFps)} | ${f(r.paintFps)} | ${f(st.delay, 0)} | ${f(st.grab + st.rgb)} | ` +
    `${f(st.upload)} | ${f(st.detect)} | ${f(st.classify)} | ${f(st.explain)} | ${f(st.draw)} |`;
}
export const kLiveTableHeader = '| build | method | processed frames/s | page frames/s | painted frames/s | camera to overlay, ms | decode ms | ' +
  'upload ms | detect ms | classify ms | explain ms | draw ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|';

// The page's rate with Live off, over `ms`: frames (animation-frame callbacks the app ran) and
// paints (those that drew the canvas; a frame with nothing new keeps the last picture).
export async function measureIdle(page, ms = 4000) {
  const count = () => page.evaluate(() => ({ frames: window.cnnlensTest.frames(), paints: window.cnnlensTest.paints() }));
  const a = await count(), t0 = Date.now();
  await sleep(ms);
  const b = await count(), s = (Date.now() - t0) / 1000;
  return { drawFps: (b.frames - a.frames) / s, paintFps: (b.paints - a.paints) / s };
}
