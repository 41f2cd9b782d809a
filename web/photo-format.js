// What a photo file is, from its first bytes (its signature). The loader (loader.js) decides
// from it who decodes the photo, the engine or the browser, and names the format when neither
// can. Bytes from strangers: a read past the end gives undefined, which matches nothing;
// tests/e2e/photo_format.test.mjs feeds it mutated files.

// Leading bytes sniffPhoto looks at: signatures, and an ISO media file's 'ftyp' box of brands.
export const kSniffBytes = 4096;

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

// {format: 'JPEG', 'WebP', ... or null when no signature matches, engine: the engine may read it
// (true for unknown formats: TGA has no signature)}.
export function sniffPhoto(bytes) {
  const [format, , engine] = kFormats.find(([, test]) => test(bytes)) || [null, null, true];
  return { format, engine };
}
