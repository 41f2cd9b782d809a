// Decodes photos with the browser's own decoders, off the page's thread (web/loader.js starts it):
// formats the engine cannot read (WebP, AVIF, HEIC where the browser can) and large JPEGs and
// PNGs, which the browser decodes natively and faster than stb_image in wasm. The photo comes
// out upright (imageOrientation 'from-image' applies the EXIF orientation) and in the colours
// the browser shows it with (an embedded colour profile is applied: asked not to, Chromium took
// twice as long to decode a 48-megapixel JPEG). The pixels are read out through a canvas:
// Chromium applies the orientation when the bitmap is drawn (a VideoFrame made from the bitmap
// came out as stored).
//
// Messages, per photo `id`:
//   in  {id, blob}          decode it;             out {id, width, height} or {id, error}
//   in  {id, go: true}      read the pixels out;   out {id, pixels: ArrayBuffer (RGBA)} or {id, error}
//   in  {id, go: false}     forget it (the page refused its size)
// The size is sent before the pixels are read out so that the page checks the limits before
// anything of that size is allocated.
const bitmaps = new Map();

async function decode(id, blob) {
  try {
    const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
    bitmaps.set(id, bitmap);
    postMessage({ id, width: bitmap.width, height: bitmap.height });
  } catch (e) {
    postMessage({ id, error: e.message || String(e) });
  }
}

function readOut(id) {
  const bitmap = bitmaps.get(id);
  bitmaps.delete(id);
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    // willReadFrequently: a canvas in memory, so getImageData is a copy rather than a GPU readback.
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data.buffer;
    postMessage({ id, pixels }, [pixels]);
  } catch (e) {
    bitmap.close();
    postMessage({ id, error: e.message || String(e) });
  }
}

onmessage = ({ data }) => {
  if (data.blob) decode(data.id, data.blob);
  else if (data.go) readOut(data.id);
  else {
    bitmaps.get(data.id)?.close();
    bitmaps.delete(data.id);
  }
};
