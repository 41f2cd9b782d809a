#!/usr/bin/env python3
"""Writes the catalogue of bad inputs (tests/data/bad/) and the fuzz seed corpora
(fuzz/corpus/<target>/) from a few tiny well-formed files built here, so every bad file is one
visible change away from a good one. Run from anywhere: python3 tests/data/bad/make_bad.py.
Needs only the standard library (and a C compiler for the JPEG, WebP and AVIF seeds, written with
Debian's stb_image_write, libwebp and libavif). The outputs are committed; the catalogue's
expected messages live in catalogue.json, which this script also writes. An entry with "needs"
names a format only native builds decode: where it is missing (the wasm build) the message is
"<needs> is not decodable here" instead."""
import base64
import json
import math
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
BAD = os.path.join(ROOT, 'tests/data/bad')
CORPUS = os.path.join(ROOT, 'fuzz/corpus')


# --- images ---------------------------------------------------------------------------------
def png(width, height, color_type, rows):
    """A PNG from raw scanlines (filter byte included)."""
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, color_type, 0, 0, 0)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')


def gradient_png(width, height, channels, color_type):
    rows = b''
    for y in range(height):
        rows += bytes([y % 5])  # filters 0..4 (none, sub, up, average, paeth)
        rows += bytes((x * 31 + y * 17 + c * 7) % 256 for x in range(width) for c in range(channels))
    return png(width, height, color_type, rows)


def bmp(width, height):
    row = bytes((x * 40 + y * 9 + c * 60) % 256 for y in range(1) for x in range(width) for c in range(3))
    row += b'\0' * ((4 - len(row) % 4) % 4)
    pixels = row * height
    header = struct.pack('<2sIHHI', b'BM', 54 + len(pixels), 0, 0, 54)
    info = struct.pack('<IiiHHIIiiII', 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def gif_1x1():
    return base64.b64decode('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==')


def pgm(width, height):
    return b'P5 %d %d 255\n' % (width, height) + bytes((i * 13) % 256 for i in range(width * height))


def tga(width, height):
    header = struct.pack('<BBBHHBHHHHBB', 0, 0, 2, 0, 0, 0, 0, 0, width, height, 24, 0)
    return header + bytes((i * 7) % 256 for i in range(width * height * 3))


def stb_jpegs(out_dir):
    """Small JPEGs written by stb_image_write (gray and colour); skipped without a compiler."""
    src = r'''
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
int main(int argc, char** argv) {
    unsigned char px[16 * 16 * 3];
    for (int i = 0; i < 16 * 16 * 3; ++i) px[i] = (unsigned char)(i * 37 + (i / 48) * 11);
    stbi_write_jpg(argv[1], 16, 16, 3, px, 60);
    stbi_write_jpg(argv[2], 16, 12, 1, px, 90);
    return 0;
}'''
    cc = shutil.which('cc') or shutil.which('gcc') or shutil.which('clang-14')
    if not cc:
        print('no C compiler: JPEG seeds not written')
        return
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, 'w.c')
        open(c, 'w').write(src)
        exe = os.path.join(tmp, 'w')
        subprocess.run([cc, '-O1', c, '-o', exe, '-lm'], check=True)
        subprocess.run([exe, os.path.join(out_dir, 'rgb16.jpg'), os.path.join(out_dir, 'gray16x12.jpg')], check=True)


CODEC_SEEDS = r'''
#include <avif/avif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>
#include <webp/mux.h>
static void save(const char* dir, const char* name, const uint8_t* data, size_t size) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE* f = fopen(path, "wb");
    fwrite(data, 1, size, f);
    fclose(f);
}
/* A 2-frame lossless animation, 8x6: the first frame red, the second blue. */
static int animation(const char* dir) {
    WebPAnimEncoderOptions opts;
    WebPConfig config;
    WebPPicture pic;
    if (!WebPAnimEncoderOptionsInit(&opts) || !WebPConfigInit(&config) || !WebPPictureInit(&pic)) return 1;
    config.lossless = 1;
    WebPAnimEncoder* enc = WebPAnimEncoderNew(8, 6, &opts);
    uint8_t px[8 * 6 * 4];
    for (int frame = 0; frame < 2; ++frame) {
        for (int i = 0; i < 8 * 6; ++i) {
            px[i * 4] = frame ? 0 : 255; px[i * 4 + 1] = 0; px[i * 4 + 2] = frame ? 255 : 0; px[i * 4 + 3] = 255;
        }
        pic.width = 8; pic.height = 6; pic.use_argb = 1;
        if (!WebPPictureImportRGBA(&pic, px, 8 * 4) || !WebPAnimEncoderAdd(enc, &pic, frame * 100, &config)) return 2;
        WebPPictureFree(&pic);
    }
    WebPData out;
    WebPDataInit(&out);
    if (!WebPAnimEncoderAdd(enc, NULL, 200, NULL) || !WebPAnimEncoderAssemble(enc, &out)) return 3;
    save(dir, "anim_red_blue8x6.webp", out.bytes, out.size);
    WebPDataClear(&out);
    WebPAnimEncoderDelete(enc);
    return 0;
}
static int avif(const char* dir, const uint8_t* rgb, int w, int h) {
    avifImage* img = avifImageCreate(w, h, 8, AVIF_PIXEL_FORMAT_YUV420);
    avifRGBImage r;
    avifRGBImageSetDefaults(&r, img);
    r.format = AVIF_RGB_FORMAT_RGB;
    r.pixels = (uint8_t*)rgb;
    r.rowBytes = w * 3;
    if (avifImageRGBToYUV(img, &r) != AVIF_RESULT_OK) return 1;
    avifEncoder* enc = avifEncoderCreate();
    enc->speed = 10;
    avifRWData out = AVIF_DATA_EMPTY;
    if (avifEncoderWrite(enc, img, &out) != AVIF_RESULT_OK) return 2;
    save(dir, "rgb16x12.avif", out.data, out.size);
    avifRWDataFree(&out);
    avifEncoderDestroy(enc);
    avifImageDestroy(img);
    return 0;
}
int main(int argc, char** argv) {
    uint8_t px[16 * 12 * 4];
    for (int i = 0; i < 16 * 12 * 4; ++i) px[i] = (uint8_t)(i * 37 + (i / 64) * 11);
    uint8_t* out = NULL;
    size_t n = WebPEncodeRGB(px, 16, 12, 16 * 3, 75, &out);
    if (!n) return 1;
    save(argv[1], "rgb16x12.webp", out, n);
    WebPFree(out);
    n = WebPEncodeLosslessRGBA(px, 8, 8, 8 * 4, &out);
    if (!n) return 1;
    save(argv[1], "rgba8x8_lossless.webp", out, n);
    WebPFree(out);
    return animation(argv[1]) || avif(argv[1], px, 16, 12);
}'''


def codec_seeds(out_dir):
    """WebP (lossy, lossless with alpha, animated) and AVIF seeds written by Debian's libwebp and
    libavif; skipped without a compiler or their -dev packages."""
    cc = shutil.which('cc') or shutil.which('gcc') or shutil.which('clang-14')
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, 'codecs.c')
        open(c, 'w').write(CODEC_SEEDS)
        exe = os.path.join(tmp, 'codecs')
        if not cc or subprocess.run([cc, '-O1', c, '-o', exe, '-lwebpmux', '-lwebp', '-lavif']).returncode != 0:
            print('no C compiler, libwebp-dev or libavif-dev: WebP and AVIF seeds not written')
            return
        subprocess.run([exe, out_dir], check=True)


def tiff_orientation(orientation, big_endian, ifd_offset=8, count=None, kind=3):
    """A TIFF header and IFD0 with Make and Orientation, as EXIF holds it; the fields a
    malformed file gets wrong are parameters."""
    e = '>' if big_endian else '<'
    entries = [(0x010F, 2, 4, b'cnn\0'), (0x0112, kind, 1, struct.pack(e + 'HH', orientation, 0))]
    b = (b'MM\0*' if big_endian else b'II*\0') + struct.pack(e + 'I', ifd_offset)
    b += struct.pack(e + 'H', len(entries) if count is None else count)
    for tag, k, n, value in entries:
        b += struct.pack(e + 'HHI', tag, k, n) + value
    return b + struct.pack(e + 'I', 0)


def with_app1(jpeg, payload, length=None):
    """The JPEG with an APP1 segment right after its start marker; `length` overrides the
    segment's declared length."""
    n = len(payload) + 2 if length is None else length
    return jpeg[:2] + b'\xff\xe1' + struct.pack('>H', n) + payload + jpeg[2:]


def png_chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))


def with_exif_chunk(png_bytes, tiff):
    """A PNG with an eXIf chunk after IHDR (8-byte signature, 25-byte IHDR chunk)."""
    return png_bytes[:33] + png_chunk(b'eXIf', tiff) + png_bytes[33:]


def exif_seeds(out_dir):
    """JPEGs and a PNG whose EXIF orientation turns them, well-formed and with each kind of
    damage the parser bounds (offsets past the end, counts past the end, cut segments, wrong
    types); the broken ones decode as stored."""
    rgb = open(os.path.join(out_dir, 'rgb16.jpg'), 'rb').read() if os.path.exists(os.path.join(out_dir, 'rgb16.jpg')) else None
    if rgb is None:
        return
    exif = b'Exif\0\0'
    write(f'{out_dir}/exif6_be.jpg', with_app1(rgb, exif + tiff_orientation(6, True)))
    write(f'{out_dir}/exif8_le.jpg', with_app1(rgb, exif + tiff_orientation(8, False)))
    write(f'{out_dir}/exif_ifd_past_end.jpg', with_app1(rgb, exif + tiff_orientation(3, True, ifd_offset=0xFFFFFFF0)))
    write(f'{out_dir}/exif_count_past_end.jpg', with_app1(rgb, exif + tiff_orientation(5, False, count=0xFFFF)))
    write(f'{out_dir}/exif_long_type.jpg', with_app1(rgb, exif + tiff_orientation(6, True, kind=4)))
    write(f'{out_dir}/exif_app1_cut.jpg', with_app1(rgb, exif + tiff_orientation(7, False)[:20], length=60))
    write(f'{out_dir}/exif5_be.png', with_exif_chunk(gradient_png(6, 4, 3, 2), tiff_orientation(5, True)))


# --- a tiny TF.js graph model ---------------------------------------------------------------
def b64(s):
    return base64.b64encode(s.encode()).decode()


def ints(*v):
    return {'list': {'i': [str(x) for x in v]}}


def tiny_model(input_shape=(-1, 4, 4, 1), extra_nodes=(), dtype='float32', quantize=None):
    """Placeholder -> Conv2D(2x2, 2 filters)+BiasAdd+Relu -> Mean(H,W) -> MatMul(2x3)+BiasAdd
    -> Softmax. Returns (model.json dict, shard bytes)."""
    weights = [
        ('conv/filter', [2, 2, 1, 2], [0.5, -0.25, 0.125, 0.75, -0.5, 0.25, 1.0, -1.0]),
        ('conv/bias', [2], [0.1, -0.1]),
        ('mean/axes', [2], [1, 2]),
        ('dense/weights', [2, 3], [1.0, -1.0, 0.5, 0.25, 0.5, -0.75]),
        ('dense/bias', [3], [0.0, 0.1, -0.1]),
    ]
    manifest, shard = [], b''
    for name, shape, values in weights:
        entry = {'name': name, 'shape': shape, 'dtype': 'int32' if name == 'mean/axes' else dtype}
        if name == 'mean/axes':
            shard += struct.pack('<%di' % len(values), *values)
        elif quantize == 'uint8':
            lo, hi = min(values), max(values)
            scale = (hi - lo) / 255 or 1.0
            entry['quantization'] = {'dtype': 'uint8', 'scale': scale, 'min': lo}
            shard += bytes(round((v - lo) / scale) for v in values)
        else:
            shard += struct.pack('<%df' % len(values), *values)
        manifest.append(entry)
    nodes = [
        {'name': 'input', 'op': 'Placeholder',
         'attr': {'shape': {'shape': {'dim': [{'size': str(d)} for d in input_shape]}}, 'dtype': {'type': 'DT_FLOAT'}}},
        {'name': 'conv/filter', 'op': 'Const'}, {'name': 'conv/bias', 'op': 'Const'},
        {'name': 'mean/axes', 'op': 'Const'}, {'name': 'dense/weights', 'op': 'Const'},
        {'name': 'dense/bias', 'op': 'Const'},
        {'name': 'conv/Relu', 'op': '_FusedConv2D', 'input': ['input', 'conv/filter', 'conv/bias'],
         'attr': {'fused_ops': {'list': {'s': [b64('BiasAdd'), b64('Relu')]}}, 'padding': {'s': b64('VALID')},
                  'strides': ints(1, 1, 1, 1), 'dilations': ints(1, 1, 1, 1), 'data_format': {'s': b64('NHWC')},
                  'num_args': {'i': '1'}}},
        {'name': 'pool/Mean', 'op': 'Mean', 'input': ['conv/Relu', 'mean/axes'], 'attr': {'keep_dims': {'b': False}}},
        {'name': 'dense/BiasAdd', 'op': '_FusedMatMul', 'input': ['pool/Mean', 'dense/weights', 'dense/bias'],
         'attr': {'fused_ops': {'list': {'s': [b64('BiasAdd')]}}, 'transpose_a': {'b': False}, 'transpose_b': {'b': False}}},
        {'name': 'probs/Softmax', 'op': 'Softmax', 'input': ['dense/BiasAdd']},
        {'name': 'Identity', 'op': 'Identity', 'input': ['probs/Softmax']},
    ]
    nodes += list(extra_nodes)
    model = {'format': 'graph-model', 'generatedBy': 'tests/data/bad/make_bad.py',
             'userDefinedMetadata': {'signature': {'outputs': {'Identity:0': {'name': 'Identity:0'}}}},
             'modelTopology': {'node': nodes},
             'weightsManifest': [{'paths': ['weights.bin'], 'weights': manifest}]}
    return model, shard


# --- ONNX (protobuf written by hand: field numbers of onnx.proto) --------------------------
def pb_varint(v):
    v &= (1 << 64) - 1
    out = b''
    while True:
        b = v & 0x7f
        v >>= 7
        out += bytes([b | (0x80 if v else 0)])
        if not v:
            return out


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v)


def pb_bytes(field, data):
    data = data if isinstance(data, bytes) else data.encode()
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def onnx_tensor(name, dims, values):
    """A float32 TensorProto with raw_data."""
    return b''.join(pb_int(1, d) for d in dims) + pb_int(2, 1) + pb_bytes(8, name) + pb_bytes(9, struct.pack(f'<{len(values)}f', *values))


def onnx_int_tensor(name, values):
    return pb_int(1, len(values)) + pb_int(2, 7) + pb_bytes(8, name) + b''.join(pb_int(7, v) for v in values)


def onnx_attr(name, value):
    """An AttributeProto from an int, float, string or list of ints/floats."""
    a = pb_bytes(1, name)
    if isinstance(value, bool) or isinstance(value, int):
        return a + pb_int(20, 2) + pb_int(3, int(value))
    if isinstance(value, float):
        return a + pb_int(20, 1) + pb_varint(2 << 3 | 5) + struct.pack('<f', value)
    if isinstance(value, str):
        return a + pb_int(20, 3) + pb_bytes(4, value)
    if all(isinstance(v, int) for v in value):
        return a + pb_int(20, 7) + b''.join(pb_int(8, v) for v in value)
    return a + pb_int(20, 6) + b''.join(pb_varint(7 << 3 | 5) + struct.pack('<f', v) for v in value)


def onnx_node(op, inputs, outputs, **attrs):
    return (b''.join(pb_bytes(1, i) for i in inputs) + b''.join(pb_bytes(2, o) for o in outputs) + pb_bytes(3, outputs[0]) +
            pb_bytes(4, op) + b''.join(pb_bytes(5, onnx_attr(k, v)) for k, v in attrs.items()))


def onnx_value_info(name, dims=None):
    """A float32 ValueInfoProto; dims None leaves the shape out, -1 is a symbolic dimension."""
    shape = b'' if dims is None else pb_bytes(2, b''.join(pb_bytes(1, pb_bytes(2, 'N') if d < 0 else pb_int(1, d)) for d in dims))
    return pb_bytes(1, name) + pb_bytes(2, pb_bytes(1, pb_int(1, 1) + shape))


def onnx_model(nodes, inits, inputs, output, opset):
    """A ModelProto: nodes and initializers, float inputs and one output as (name, dims)."""
    g = (b''.join(pb_bytes(1, n) for n in nodes) + pb_bytes(2, 'seed') + b''.join(pb_bytes(5, t) for t in inits) +
         b''.join(pb_bytes(11, onnx_value_info(n, d)) for n, d in inputs) + pb_bytes(12, onnx_value_info(*output)))
    return pb_int(1, 8) + pb_bytes(2, 'make_bad.py') + pb_bytes(7, g) + pb_bytes(8, pb_bytes(1, '') + pb_int(2, opset))


def ramp(n, scale=0.1):
    return [((k * 7919) % 23 - 11) * scale for k in range(n)]


def onnx_seeds():
    """Small image classifiers ([N,C,H,W] in, [N,classes] out, so the fuzz target runs them)
    reaching the importer's paths one by one."""
    seeds = {}
    # Opset 6: arithmetic's broadcast axis, PRelu's per-channel slope, BatchNormalization with
    # is_test, Upsample-1's height_scale/width_scale.
    seeds['opset6_legacy'] = onnx_model(
        [onnx_node('Add', ['x', 'b'], ['a'], broadcast=1, axis=1), onnx_node('PRelu', ['a', 's'], ['p']),
         onnx_node('BatchNormalization', ['p', 's', 'b', 'mu', 'var'], ['n'], is_test=1),
         onnx_node('Upsample', ['n'], ['u'], height_scale=2.0, width_scale=2.0, mode='nearest'),
         onnx_node('GlobalAveragePool', ['u'], ['g']), onnx_node('Flatten', ['g'], ['y'])],
        [onnx_tensor('b', [3], [0.5, -0.5, 0.25]), onnx_tensor('s', [3], [0.1, 0.2, 0.3]), onnx_tensor('mu', [3], [0.0, 0.1, -0.1]),
         onnx_tensor('var', [3], [1.0, 2.0, 0.5])], [('x', [-1, 3, 4, 4])], ('y', [-1, 3]), 6)
    # Resize cubic with exclude_outside, dilated MaxPool with ceil_mode, LayerNormalization's
    # extra outputs used.
    seeds['resize_cubic_pool_dilated_layernorm'] = onnx_model(
        [onnx_node('Resize', ['x', '', 'scales'], ['r'], mode='cubic', cubic_coeff_a=-0.5, exclude_outside=1),
         onnx_node('MaxPool', ['r'], ['m'], kernel_shape=[2, 2], dilations=[2, 2], ceil_mode=1),
         onnx_node('LayerNormalization', ['m', 'ln_w'], ['l', 'mean', 'inv'], axis=1),
         onnx_node('Mul', ['l', 'inv'], ['li']), onnx_node('Add', ['li', 'mean'], ['la']),
         onnx_node('ReduceMean', ['la'], ['y'], axes=[2, 3], keepdims=0)],
        [onnx_tensor('scales', [4], [1.0, 1.0, 1.5, 1.5]), onnx_tensor('ln_w', [3, 4, 4], ramp(48))], [('x', [-1, 3, 4, 4])], ('y', [-1, 3]), 17)
    # No batch axis: x [C,H,W] is data on every axis; read with a batch axis added.
    seeds['no_batch_axis'] = onnx_model(
        [onnx_node('Transpose', ['x'], ['t'], perm=[1, 2, 0]), onnx_node('Softmax', ['t'], ['s'], axis=0),
         onnx_node('Reshape', ['s', 'flat'], ['f']), onnx_node('MatMul', ['f', 'w'], ['m']), onnx_node('Add', ['m', 'c'], ['y'])],
        [onnx_int_tensor('flat', [48]), onnx_tensor('w', [48, 5], ramp(240, 0.01)), onnx_tensor('c', [5], [0.1] * 5)],
        [('x', [3, 4, 4])], ('y', [5]), 13)
    return seeds


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def write_model(folder, model, shard, with_shard=True):
    write(os.path.join(folder, 'model.json'), json.dumps(model, indent=1))
    if with_shard:
        write(os.path.join(folder, 'weights.bin'), shard)


def csv_rows(rows, header='emotion,pixels,Usage'):
    return (header + '\n' if header else '') + ''.join(r + '\n' for r in rows)


def pixels(n, start=0):
    return ' '.join(str((start + i * 29) % 256) for i in range(n))


# --- the catalogue --------------------------------------------------------------------------
def catalogue():
    if os.path.isdir(BAD):
        for e in os.listdir(BAD):
            p = os.path.join(BAD, e)
            if e in ('make_bad.py', 'fuzz'):  # fuzz/: inputs the fuzzers found, kept as they were
                continue
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    items = []

    def add(file, kind, expect, what, needs=None):
        items.append({'file': file, 'kind': kind, 'expect': expect, 'what': what, **({'needs': needs} if needs else {})})

    face = open(os.path.join(ROOT, 'tests/data/astronaut_face.png'), 'rb').read()
    photo = open(os.path.join(ROOT, 'tests/data/astronaut.jpg'), 'rb').read()
    write(f'{BAD}/empty.png', b'')
    add('empty.png', 'image', 'the file is empty', 'an empty file')
    write(f'{BAD}/truncated.png', face[:200])
    add('truncated.png', 'image', 'decoding failed (Corrupt PNG)', 'a PNG cut after 200 bytes (header, no pixel data)')
    write(f'{BAD}/truncated.jpg', photo[:4000])
    add('truncated.jpg', 'image', 'decoding failed (Corrupt JPEG)', 'a JPEG cut after 4000 bytes')
    write(f'{BAD}/huge.png', png(100000, 100000, 0, b'\0' * 101))
    add('huge.png', 'image', '100000x100000 pixels exceeds the limit of 32768 per side and 100 megapixels',
        'a PNG declaring 100000x100000 pixels (refused from the header, before decoding)')
    write(f'{BAD}/wide.bmp', bmp(40000, 1)[:54])
    add('wide.bmp', 'image', '40000x1 pixels exceeds the limit', 'a BMP header declaring 40000x1 pixels')
    write(f'{BAD}/zero_width.png', png(0, 16, 0, b''))
    add('zero_width.png', 'image', 'declares 0x16 pixels (a side of zero or less)', 'a PNG declaring a width of 0')
    write(f'{BAD}/text.png', 'This is a text file with a .png name.\n')
    add('text.png', 'image', 'not a decodable image', 'a text file named .png')

    # Formats recognised by their first bytes: WebP and AVIF decode natively (in the browser the
    # page decodes them), the others nowhere, and the error names the format.
    webp = open(os.path.join(ROOT, 'tests/data/photos/astronaut.webp'), 'rb').read()
    write(f'{BAD}/truncated.webp', webp[:3000])
    add('truncated.webp', 'image', 'WebP decoding failed (the compressed data is corrupt or cut short)',
        'a WebP cut after 3000 bytes', needs='WebP')
    vp8l = bytes([0x2F]) + struct.pack('<I', (16383) | (16383 << 14))  # 16384x16384, no alpha, version 0
    write(f'{BAD}/huge.webp', b'RIFF' + struct.pack('<I', 4 + 8 + 6) + b'WEBP' + b'VP8L' + struct.pack('<I', 6) + vp8l + b'\0')
    add('huge.webp', 'image', '16384x16384 pixels exceeds the limit of 32768 per side and 100 megapixels',
        'a lossless WebP header declaring 16384x16384 pixels (refused from the header, before decoding)', needs='WebP')
    avif = open(os.path.join(ROOT, 'tests/data/photos/astronaut.avif'), 'rb').read()
    write(f'{BAD}/truncated.avif', avif[:2000])
    add('truncated.avif', 'image', 'not a readable AVIF file (libavif: BMFF parsing failed)',
        'an AVIF cut after 2000 bytes (its image data is declared past the end)', needs='AVIF')
    write(f'{BAD}/photo.heic', struct.pack('>I', 24) + b'ftypheic' + struct.pack('>I', 0) + b'mif1heic' + b'\0' * 64)
    add('photo.heic', 'image', 'HEIC/HEIF is not a format cnnlens decodes', 'the start of an iPhone HEIC photo')
    write(f'{BAD}/scan.tif', b'II*\0' + struct.pack('<IH', 8, 0) + b'\0' * 32)
    add('scan.tif', 'image', 'TIFF (or a camera raw file built on TIFF) is not a format cnnlens decodes', 'a TIFF header')
    write(f'{BAD}/photo.jxl', b'\xff\x0a' + b'\xfa\x1f' + b'\0' * 32)
    add('photo.jxl', 'image', 'JPEG XL is not a format cnnlens decodes', 'the start of a JPEG XL codestream')

    model, shard = tiny_model()
    write_model(f'{BAD}/model_without_weights', model, shard, with_shard=False)
    add('model_without_weights/model.json', 'model', "weight shard 'weights.bin' cannot be read",
        'a model.json whose weight shard is missing')
    write_model(f'{BAD}/short_shard', model, shard[:-6])
    add('short_shard/model.json', 'model', "weight shards 'weights.bin' hold 78 bytes but the manifest needs at least 84",
        'a weight shard 6 bytes short')
    nan = bytearray(shard)
    nan[0:4] = struct.pack('<f', math.nan)
    write_model(f'{BAD}/nan_weights', model, bytes(nan))
    add('nan_weights/model.json', 'model', "weight 'conv/filter' holds a non-finite value at element 0", 'a NaN weight')
    inf = bytearray(shard)
    inf[12:16] = struct.pack('<f', math.inf)
    write_model(f'{BAD}/inf_weights', model, bytes(inf))
    add('inf_weights/model.json', 'model', "weight 'conv/filter' holds a non-finite value at element 3", 'an infinite weight')
    unknown, _ = tiny_model(extra_nodes=[{'name': 'fancy', 'op': 'FancyOp', 'input': ['probs/Softmax']}])
    write_model(f'{BAD}/unknown_op', unknown, shard)
    add('unknown_op/model.json', 'model', 'unsupported ops: FancyOp (1 node: fancy)', 'an op cnnlens does not know')
    cycle, _ = tiny_model()
    for n in cycle['modelTopology']['node']:
        if n['name'] == 'conv/Relu':
            n['input'][0] = 'Identity'
    write_model(f'{BAD}/cycle', cycle, shard)
    add('cycle/model.json', 'model', 'the graph has a cycle through node', 'a graph with a cycle')
    zero, _ = tiny_model(input_shape=(-1, 0, 4, 1))
    write_model(f'{BAD}/zero_dim', zero, shard)
    add('zero_dim/model.json', 'model', "model.json: input 'input': dimension 1 is 0 (expected 1..65536)", 'an input of height 0')
    neg, _ = tiny_model(input_shape=(-1, 4, -3, 1))
    write_model(f'{BAD}/negative_dim', neg, shard)
    add('negative_dim/model.json', 'model', "model.json: input 'input': dimension 2 is -3 (expected 1..65536)", 'an input of width -3')
    negw, _ = tiny_model()
    negw['weightsManifest'][0]['weights'][1]['shape'] = [-2]
    write_model(f'{BAD}/negative_weight_dim', negw, shard)
    add('negative_weight_dim/model.json', 'model', "weight 'conv/bias' has dimension -2", 'a weight of shape [-2]')
    big_w, _ = tiny_model()
    big_w['weightsManifest'][0]['weights'][0]['shape'] = [65536, 65536, 1, 2]
    write_model(f'{BAD}/huge_weight', big_w, shard)
    add('huge_weight/model.json', 'model', 'has more than 268435456 elements (the limit)',
        'a weight declaring 65536x65536x1x2 elements')
    big_act, _ = tiny_model(input_shape=(-1, 8192, 8192, 1))
    write_model(f'{BAD}/huge_activations', big_act, shard)
    add('huge_activations/model.json', 'model', 'MiB of activations and gradients for one image',
        'an 8192x8192 input whose layers need more than 1 GiB per image')
    write(f'{BAD}/not_json/model.json', '{"format": "graph-model", "modelTopology": [1, 2,')
    add('not_json/model.json', 'model', 'not valid JSON', 'a model.json cut in the middle')

    write(f'{BAD}/wrong_pixel_count.csv', csv_rows(['3,' + pixels(2304) + ',PublicTest', '4,' + pixels(2000) + ',PublicTest']))
    add('wrong_pixel_count.csv', 'csv', 'wrong_pixel_count.csv line 3 (row 2): 2000 pixel values; expected 2304 (48x48, as in row 1)', 'a row with 2000 pixels after one with 2304')
    write(f'{BAD}/not_square.csv', csv_rows(['3,' + pixels(10) + ',PublicTest']))
    add('not_square.csv', 'csv', 'line 2 (row 1): 10 pixel values do not form a square image', 'a row whose pixel count is not a square')
    write(f'{BAD}/label_out_of_range.csv', csv_rows(['3,' + pixels(16), '9,' + pixels(16)], header='label,feature'))
    add('label_out_of_range.csv', 'csv', 'label 9 is out of range', 'a label 9 for 7 classes')
    write(f'{BAD}/negative_label.csv', csv_rows(['-1,' + pixels(16)], header='label,feature'))
    add('negative_label.csv', 'csv', 'label -1 is out of range', 'a label -1')
    write(f'{BAD}/pixel_out_of_range.csv', csv_rows(['2,' + pixels(15) + ' 300'], header='label,feature'))
    add('pixel_out_of_range.csv', 'csv', 'pixel 16 is 300', 'a pixel value 300')
    write(f'{BAD}/empty.csv', b'')
    add('empty.csv', 'csv', 'empty.csv is empty', 'an empty CSV')

    # Found by scripts/fuzz.sh (each crashed or overflowed inside Debian's stb_image before the fix).
    add('fuzz/jpeg_huffman_413_codes.jpg', 'image', 'JPEG Huffman table 1 at byte 206 declares 413 codes (at most 256)',
        'fuzzer: a DHT table with 413 codes (stb_image wrote past its 257-entry size list)')
    add('fuzz/jpeg_huffman_ff_ff_d8.jpg', 'image', 'JPEG Huffman table 0 at byte 216 declares 1376 codes (at most 256)',
        'fuzzer: the same behind a start marker with a doubled 0xFF')
    add('fuzz/jpeg_huffman_table_cut_by_eof.jpg', 'image', 'JPEG Huffman table 2 at byte 387 declares 985 codes (at most 256)',
        'fuzzer: a DHT table whose code counts run past the end of the file (stb_image reads them as 0)')
    add('fuzz/png_empty_first_idat.png', 'image', 'PNG chunk IDAT at byte 33 is empty',
        'fuzzer: an empty first IDAT chunk (stb_image copied it to a null pointer)')
    add('fuzz/pnm_width_overflow.ppm', 'image', 'pixels (a side of zero or less)',
        'fuzzer: a PPM width of 13 digits (int overflow in stb_image\'s header parser)')
    add('fuzz/onnx_slice_step_overflow.onnx', 'model', "Pad node '/Pad': pads has 2 values for rank 4",
        'fuzzer: a Slice step near -2^63 (signed overflow in the slice length; the step is now clamped to the axis)')
    add('fuzz/onnx_pad_float_overflow.onnx', 'model', "Pad node '/pool1/Pad': padding (1,9223372036854775780) on axis 1 not supported",
        'fuzzer: float pads far outside int64 (the float-to-int conversion overflowed; floats are now clamped to +-2^40 first)')

    with open(os.path.join(BAD, 'catalogue.json'), 'w') as f:
        f.write('[\n' + ',\n'.join('  ' + json.dumps(i) for i in items) + '\n]\n')
    print(f'{len(items)} bad inputs in {BAD}')


# --- fuzz seed corpora ----------------------------------------------------------------------
def corpora():
    image = os.path.join(CORPUS, 'image')
    csv = os.path.join(CORPUS, 'csv')
    tfjs = os.path.join(CORPUS, 'tfjs_graph')
    for d in (image, csv, tfjs):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    write(f'{image}/gray8x8.png', gradient_png(8, 8, 1, 0))
    write(f'{image}/rgb8x6.png', gradient_png(8, 6, 3, 2))
    write(f'{image}/rgba5x4.png', gradient_png(5, 4, 4, 6))
    write(f'{image}/graya3x3.png', gradient_png(3, 3, 2, 4))
    write(f'{image}/rgb4x3.bmp', bmp(4, 3))
    write(f'{image}/1x1.gif', gif_1x1())
    write(f'{image}/gray5x4.pgm', pgm(5, 4))
    write(f'{image}/rgb3x2.tga', tga(3, 2))
    stb_jpegs(image)
    codec_seeds(image)
    exif_seeds(image)

    # The first byte picks the reader's options (see fuzz/csv_fuzz.cpp).
    write(f'{csv}/fer2013.csv', b'\x00' + csv_rows(['3,' + pixels(16) + ',PublicTest', '0,' + pixels(16, 5) + ',Training',
                                                     '6,' + pixels(16, 9) + ',PrivateTest']).encode())
    write(f'{csv}/fer2013_lenient_usage.csv', b'\x03' + csv_rows(['"3","' + pixels(9) + '","PublicTest"',
                                                                   '9,' + pixels(9) + ',PublicTest']).encode())
    write(f'{csv}/course.csv', b'\x04' + csv_rows(['1,' + pixels(4), '2,' + pixels(4, 3)], header='label,feature').encode())
    write(f'{csv}/no_header_crlf.csv', b'\x01\xef\xbb\xbf' + ('0,' + pixels(4) + '\r\n1,' + pixels(4, 1) + '\r\n').encode())

    model, shard = tiny_model()
    write(f'{tfjs}/tiny.model', json.dumps(model).encode() + b'\0' + shard)
    q, qshard = tiny_model(quantize='uint8')
    write(f'{tfjs}/tiny_uint8.model', json.dumps(q).encode() + b'\0' + qshard)
    more, _ = tiny_model(extra_nodes=[
        {'name': 'pool', 'op': 'MaxPool', 'input': ['conv/Relu'],
         'attr': {'ksize': ints(1, 2, 2, 1), 'strides': ints(1, 1, 1, 1), 'padding': {'s': b64('SAME')}}},
        {'name': 'act', 'op': 'Sigmoid', 'input': ['pool']},
        {'name': 'sum', 'op': 'AddV2', 'input': ['act', 'conv/Relu']},
    ])
    write(f'{tfjs}/tiny_more_ops.model', json.dumps(more).encode() + b'\0' + shard)
    # The ONNX seeds next to these are the fixtures act48.opset17.onnx and dwsep48.opset11.onnx.
    for name, model in onnx_seeds().items():
        write(f'{CORPUS}/onnx/{name}.onnx', model)
    print(f'seed corpora in {CORPUS}')


if __name__ == '__main__':
    catalogue()
    corpora()
