// web/photo-format.js under node (no browser): the formats the page tells apart by their first
// bytes, then the sniffer fed files it was not written for (every bad input of the catalogue, and
// seeded mutations and truncations of real headers): it must never throw, and what it names must
// be one of its formats.
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
    [fs.readFileSync(path.join(root, 'tests/data/astronaut.jpg')), 'JPEG', true],
    [fs.readFileSync(path.join(root, 'tests/data/astronaut_face.png')), 'PNG', true],
    [bytes('RIFF', be32(100), 'WEBPVP8 '), 'WebP', false],
    [ftyp('avif', 'mif1', 'miaf'), 'AVIF', false],
    [ftyp('mif1', 'avif'), 'AVIF', false],
    [ftyp('heic', 'mif1'), 'HEIC', false],
    [bytes('II*', [0], be32(8)), 'TIFF', false],
    [bytes('MM', [0], '*'), 'TIFF', false],
    [bytes([0xFF, 0x0A, 0x10]), 'JPEG XL', false],
    [bytes(be32(12), 'JXL ', [13, 10, 0x87, 10]), 'JPEG XL', false],
    [bytes(be32(12), 'jP  ', [13, 10, 0x87, 10]), 'JPEG 2000', false],
    [bytes('GIF89a'), 'GIF', true],
    [bytes('qoif'), 'QOI', false],
    [bytes('this is not an image'), null, true],
    [bytes(), null, true],
  ];
  for (const [b, format, engine] of cases) assert.deepEqual(sniffPhoto(b), { format, engine }, format);
});

const kNames = ['PNG', 'JPEG XL', 'JPEG', 'GIF', 'BMP', 'PSD', 'PNM', 'WebP', 'AVIF', 'HEIC', 'TIFF', 'JPEG 2000', 'OpenEXR', 'QOI'];

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
  assert.ok(got.format === null || kNames.includes(got.format), `${what}: ${got.format}`);
  assert.equal(typeof got.engine, 'boolean', what);
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
