// End-to-end test of many faces in headless Chromium: a group photo of 20 faces (drawn here as
// tests/test_util.cpp's group_photo() draws it: the faces of tests/data/eval/fer2013_20.csv
// enlarged 3x in 5 columns) is dropped, every face the detector finds is listed, the Right arrow
// key steps to the 5th face and the seven-class grid follows it; the alignment switch turns
// the crops upright and back. Environment as in app.test.mjs; screenshots go to
// build/e2e-artifacts/faces-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { artifacts, dropOnCanvas, launchChromium, openPage, root, site, waitReady } from './harness.mjs';
import { serve } from './serve.mjs';

let server, browser, page;
let pageErrors = [];

// The group photo: 1008 x 816 gray, mid-gray background, 144-pixel tiles 48 pixels apart.
function groupPhoto() {
  const rows = fs.readFileSync(path.join(root, 'tests/data/eval/fer2013_20.csv'), 'utf8').trim().split('\n').slice(1);
  const factor = 3, tile = 48 * factor, gap = 48, columns = 5;
  const width = columns * (tile + gap) + gap, height = Math.ceil(rows.length / columns) * (tile + gap) + gap;
  const pixels = new Uint8Array(width * height).fill(128);
  rows.forEach((row, i) => {
    const face = row.split(',')[1].split(' ').map(Number);
    const ox = gap + (i % columns) * (tile + gap), oy = gap + Math.floor(i / columns) * (tile + gap);
    for (let y = 0; y < tile; ++y) {
      for (let x = 0; x < tile; ++x) pixels[(oy + y) * width + ox + x] = face[Math.floor(y / factor) * 48 + Math.floor(x / factor)];
    }
  });
  return { width, height, pixels };
}

// An 8-bit gray PNG (filter 0 on every row).
function grayPng({ width, height, pixels }) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;  // bit depth; colour type 0 (gray), compression, filter, interlace 0
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; ++y) Buffer.from(pixels.buffer, y * width, width).copy(raw, y * (width + 1) + 1);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const hook = (fn, arg) => page.evaluate(fn, arg);
const panels = (command) => hook((c) => window.cnnlensTest.panels(c), command);
const frames = async (n) => {
  const f0 = await hook(() => window.cnnlensTest.frames());
  await page.waitForFunction(([f, k]) => window.cnnlensTest.frames() > f + k, [f0, n]);
};
async function settled() {
  await frames(2);
  await page.waitForFunction(() => window.cnnlensTest.idle().then(() => window.cnnlensTest.panelsIdle()).then(() => true),
    null, { timeout: 120000 });
  await frames(2);
}

before(async () => {
  assert.ok(fs.existsSync(path.join(site, 'app.wasm')), `no built site in ${site}: build the wasm preset first`);
  fs.mkdirSync(artifacts, { recursive: true });
  server = await serve(site);
  const origin = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium();
  ({ page, pageErrors } = await openPage(browser, origin));
  await page.goto(`${origin}/`);
  await waitReady(page);
});

after(async () => {
  await browser?.close();
  server?.close();
});

test('a group photo lists its faces; the Right key steps to the 5th and the class grid follows', async () => {
  const png = grayPng(groupPhoto());
  fs.writeFileSync(path.join(artifacts, 'faces-group.png'), png);
  await dropOnCanvas(page, [[png, 'group.png', 'image/png']]);
  await settled();
  assert.equal(await hook(() => window.cnnlensTest.error()), '');
  const faces = await hook(() => window.cnnlensTest.faces());
  console.log(`# group photo: ${faces.length} of 20 faces found`);
  assert.ok(faces.length >= 15, `only ${faces.length} faces found`);
  assert.ok(faces.every((f) => !f.wholePhoto && f.probs.length === 7));
  assert.ok(new Set(faces.map((f) => f.top)).size >= 3, 'different faces, different predictions');
  assert.deepEqual(await panels('selection'), { selected: 0, faces: faces.length, align: true });

  await panels('tab grid');
  await settled();
  const first = await panels('grid');
  assert.equal(first.done, 7);
  await page.screenshot({ path: path.join(artifacts, 'faces-1-first.png') });

  await page.click('#canvas', { position: { x: 1200, y: 780 } });  // keyboard focus; an empty spot of the right panel
  for (let k = 1; k <= 4; ++k) {
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction((want) => window.cnnlensTest.panels('selection').selected === want, k, { timeout: 10000 });
  }
  await settled();
  const fifth = await panels('grid');
  assert.equal(fifth.done, 7);
  assert.notDeepEqual(fifth.maxAbs, first.maxAbs, 'the class grid did not change with the face');
  await page.screenshot({ path: path.join(artifacts, 'faces-2-fifth.png') });
  // Two taps within one frame count twice: each press is seen down in one frame and up in a later one.
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(() => window.cnnlensTest.panels('selection').selected === 2, null, { timeout: 10000 });
});

test('the alignment switch turns the crops upright and back', async () => {
  const turned = (await hook(() => window.cnnlensTest.faces())).filter((f) => f.angle !== 0).length;
  assert.ok(turned > 0, 'some faces of the group photo tilt by 3 degrees or more');
  assert.deepEqual(await panels('align off'), {});
  await settled();
  const upright = await hook(() => window.cnnlensTest.faces());
  assert.ok(upright.every((f) => f.angle === 0));
  assert.equal((await panels('selection')).align, false);
  assert.deepEqual(await panels('align on'), {});
  await settled();
  assert.equal((await hook(() => window.cnnlensTest.faces())).filter((f) => f.angle !== 0).length, turned);
  assert.deepEqual(pageErrors, []);
});
