// What a photo file is, from its first bytes: the format (by its signature) and, for JPEG and
// PNG, the size its header declares. The loader (loader.js) decides from it who decodes the
// photo, the engine or the browser, and names the format when neither can. Bytes from strangers:
// every read is bounds-checked (a read past the end gives undefined, which matches nothing) and
// JPEG segments are walked forward only; tests/e2e/photo_format.test.mjs feeds it mutated files.

// How many leading bytes sniffPhoto needs to find a JPEG's frame header behind its EXIF and
// colour-profile segments in practice (each at most 64 KB).
export const kSniffBytes = 1 << 18;

const ascii = (b, at, text) => [...text].every((ch, i) => b[at + i] === ch.charCodeAt(0));

// An ISO media file's major and compatible brands (its leading 'ftyp' box).
function ftypBrands(b) {
  if (b.length < 16 || !ascii(b, 4, 'ftyp')) return [];
  const end = Math.min(b.length, ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0);
  const brands = [];
  for (let at = 8; at + 4 <= end; at += at === 8 ? 8 : 4) brands.push(String.fromCharCode(...b.subarray(at, at + 4)));
  return brands;
}

// [name, test, the engine reads it]. AVIF before HEIC (AVIF files also list HEIF's generic brand
// mif1); JPEG XL's codestream (FF 0A) before JPEG (FF D8).
const kFormats = [
  ['PNG', (b) => ascii(b, 0, '\x89PNG\r\n\x1a\n'), true],
  ['JPEG XL', (b) => (b[0] === 0xFF && b[1] === 0x0A) || ascii(b, 4, 'JXL '), false],
  ['JPEG', (b) => b[0] === 0xFF && b[1] === 0xD8, true],
  ['GIF', (b) => ascii(b, 0, 'GIF8'), true],
  ['BMP', (b) => ascii(b, 0, 'BM'), true],
  ['PSD', (b) => ascii(b, 0, '8BPS'), true],
  ['PNM', (b) => b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x36, true],
  ['WebP', (b) => ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP'), false],
  ['AVIF', (b) => ftypBrands(b).some((x) => x === 'avif' || x === 'avis'), false],
  ['HEIC', (b) => ftypBrands(b).some((x) => ['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1'].includes(x)), false],
  ['TIFF', (b) => ascii(b, 0, 'II*\0') || ascii(b, 0, 'MM\0*') || ascii(b, 0, 'II+\0') || ascii(b, 0, 'MM\0+'), false],
  ['JPEG 2000', (b) => (b[0] === 0xFF && b[1] === 0x4F && b[2] === 0xFF && b[3] === 0x51) || ascii(b, 4, 'jP  '), false],
  ['OpenEXR', (b) => b[0] === 0x76 && b[1] === 0x2F && b[2] === 0x31 && b[3] === 0x01, false],
  ['QOI', (b) => ascii(b, 0, 'qoif'), false],
];

// [width, height] from a JPEG's first start-of-frame segment or a PNG's IHDR, or null.
function headerSize(format, b) {
  const be16 = (i) => (b[i] << 8) | b[i + 1];
  if (format === 'PNG') return b.length >= 24 && ascii(b, 12, 'IHDR') ? [be16(16) * 65536 + be16(18), be16(20) * 65536 + be16(22)] : null;
  if (format !== 'JPEG') return null;
  for (let i = 2; i + 9 < b.length;) {
    if (b[i] !== 0xFF) return null;
    const m = b[i + 1];
    if (m === 0xFF) { ++i; continue; }  // a fill byte
    if (m === 0xD8 || m === 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }  // no length
    if (m >= 0xC0 && m <= 0xCF && m !== 0xC4 && m !== 0xC8 && m !== 0xCC) return [be16(i + 7), be16(i + 5)];
    if (m === 0xDA || m === 0xD9) return null;  // scan data, or the end, before any frame
    i += 2 + be16(i + 2);
  }
  return null;
}

// {format: 'JPEG', 'WebP', ... or null when no signature matches, engine: the engine reads it
// (true for unknown formats: TGA has no signature), size: [width, height] or null}.
export function sniffPhoto(bytes) {
  const [format, , engine] = kFormats.find(([, test]) => test(bytes)) || [null, null, true];
  return { format, engine, size: format ? headerSize(format, bytes) : null };
}
