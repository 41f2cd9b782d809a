// web/photo-format.js under node (no browser): the formats the page names and the sizes it reads
// from JPEG and PNG headers, then the sniffer fed files it was not written for (every bad input of
// the catalogue, and seeded mutations and truncations of real headers): it must never throw and
// every size it gives must be two whole numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { root } from './harness.mjs';

// Imported from its text: web/ has no package.json saying its .js files are modules, and node
// would warn on every run that it had to guess.
const { kSniffBytes, sniffPhoto } = await import('data:text/javascript,' +
  encodeURIComponent(fs.readFileSync(path.join(root, 'web/photo-format.js'), 'utf8')));

const bytes = (...parts) => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : Array.from(p))));
const be32 = (n) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const ftyp = (...brands) => bytes(be32(8 + 4 * (brands.length + 1)), 'ftyp', brands[0], [0, 0, 0, 0], ...brands.slice(1));

test('formats are named by their first bytes', () => {
  const cases = [
    [fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'JPEG', true, [512, 512]],
    [fs.readFileSync(path.join(root, 'tests/data/astronaut_face.png')), 'PNG', true, null],
    [bytes('RIFF', be32(100), 'WEBPVP8 '), 'WebP', false, null],
    [ftyp('avif', 'mif1', 'miaf'), 'AVIF', false, null],
    [ftyp('mif1', 'avif'), 'AVIF', false, null],
    [ftyp('heic', 'mif1'), 'HEIC', false, null],
    [bytes('II*', [0], be32(8)), 'TIFF', false, null],
    [bytes('MM', [0], '*'), 'TIFF', false, null],
    [bytes([0xFF, 0x0A, 0x10]), 'JPEG XL', false, null],
    [bytes(be32(12), 'JXL ', [13, 10, 0x87, 10]), 'JPEG XL', false, null],
    [bytes(be32(12), 'jP  ', [13, 10, 0x87, 10]), 'JPEG 2000', false, null],
    [bytes('GIF89a'), 'GIF', true, null],
    [bytes('qoif'), 'QOI', false, null],
    [bytes('this is not an image'), null, true, null],
    [bytes(), null, true, null],
  ];
  for (const [b, format, engine, size] of cases) {
    const got = sniffPhoto(b);
    assert.equal(got.format, format, `${format}: ${JSON.stringify(got)}`);
    assert.equal(got.engine, engine, format);
    if (size) assert.deepEqual(got.size, size, format);
  }
  const face = sniffPhoto(fs.readFileSync(path.join(root, 'tests/data/astronaut_face.png')));
  assert.ok(face.size && face.size[0] > 0 && face.size[1] > 0, JSON.stringify(face));
});

test('a JPEG\'s frame header is found behind fill bytes, restart markers and a large EXIF segment', () => {
  const jpeg = fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg'));
  const app1 = bytes([0xFF, 0xE1, 0xFF, 0xF0], new Array(0xFFEE).fill(7));
  const padded = bytes(jpeg.subarray(0, 2), [0xFF, 0xFF], app1, [0xFF, 0xD0], jpeg.subarray(2));
  assert.deepEqual(sniffPhoto(padded).size, [512, 512]);
  assert.ok(padded.length < kSniffBytes);
  assert.equal(sniffPhoto(padded.subarray(0, 0x10000)).size, null);  // cut before the frame
});

// A small seeded generator (mulberry32), so a failure repeats.
function rng(seed) {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(b, what) {
  let got;
  assert.doesNotThrow(() => { got = sniffPhoto(b); }, what);
  assert.ok(got.size === null || (got.size.length === 2 && got.size.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)),
    `${what}: size ${got.size}`);
}

test('bad inputs and mutated headers never throw', () => {
  const bad = path.join(root, 'tests/data/bad');
  for (const e of JSON.parse(fs.readFileSync(path.join(bad, 'catalogue.json'), 'utf8'))) {
    if (e.kind === 'image') check(new Uint8Array(fs.readFileSync(path.join(bad, e.file))).subarray(0, kSniffBytes), e.file);
  }
  const seeds = [fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')).subarray(0, 4096),
    fs.readFileSync(path.join(root, 'tests/data/astronaut_face.png')).subarray(0, 512), ftyp('avif', 'mif1'),
    bytes('RIFF', be32(100), 'WEBPVP8X')];
  const r = rng(1);
  for (let n = 0; n < 20000; ++n) {
    const b = Uint8Array.from(seeds[n % seeds.length]);
    for (let k = 1 + Math.floor(r() * 8); k > 0; --k) {
      const at = Math.floor(r() * b.length), v = r();
      b[at] = v < 0.3 ? 0xFF : v < 0.5 ? 0 : Math.floor(r() * 256);
    }
    check(b.subarray(0, r() < 0.5 ? b.length : Math.floor(r() * b.length)), `mutation ${n}`);
  }
});
