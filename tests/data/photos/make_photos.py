#!/usr/bin/python3
"""Writes the photo fixtures of tests/data/photos/ from tests/data/astronaut.jpg: the same photo
as phones and the web save it. Run with Debian's python3 (PIL): /usr/bin/python3
tests/data/photos/make_photos.py. Needs jpegtran (libjpeg-turbo-progs), a C compiler and
libavif-dev. The outputs are committed.

orientation/astronaut_<o>.jpg, o = 1..8: a 320x272 crop around the face (MCU-aligned), its
  pixels stored turned or mirrored losslessly by jpegtran and an EXIF Orientation tag <o> saying
  how to turn them back (APP1 "Exif", IFD0 as a phone writes it; big-endian "MM" for even o,
  little-endian "II" for odd). Shown upright, all eight are the same photo. A decoder's inverse
  DCT is not exactly symmetric under transposition, so decoded pixels agree within a few levels,
  not exactly (stb_image: 3 levels at most).
orientation/astronaut_<o>.png: the same with exactly the same upright pixels (the upright crop
  as decoded by PIL, 256 colours), stored turned, with the same EXIF in an eXIf chunk.
orientation/astronaut_irot<a>[_imir<m>].avif: the PNGs' upright pixels stored so that the AVIF
  container's rotation (irot, a turns of 90 degrees counter-clockwise) and then mirror (imir m,
  0: top-bottom, 1: left-right) show them upright; lossy, so they agree within the codec's loss.
astronaut.webp, astronaut.avif: the whole 512x512 photo as WebP (lossy, PIL) and AVIF (libavif).

Each orientation fixture is checked against PIL's own reading of the tag (ImageOps.exif_transpose):
turned upright by PIL it must match the upright crop, and match it better than any other
orientation would."""
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from PIL import Image, ImageChops, ImageOps, ImageStat

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
OUT = os.path.join(ROOT, 'tests/data/photos')
SOURCE = os.path.join(ROOT, 'tests/data/astronaut.jpg')
CROP = '320x272+112+32'  # width x height + x + y: multiples of 16 (4:2:0 MCUs), the face off-centre

# The lossless jpegtran operation that stores the upright photo so that EXIF orientation o turns
# it back (the inverse of the turn o asks for; only 6 and 8 are not their own inverse).
STORE = {1: [], 2: ['-flip', 'horizontal'], 3: ['-rotate', '180'], 4: ['-flip', 'vertical'],
         5: ['-transpose'], 6: ['-rotate', '270'], 7: ['-transverse'], 8: ['-rotate', '90']}
# The same on pixels, for the PNGs (PIL's transpose methods).
STORE_PIL = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
             4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
             7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


def tiff_with_orientation(orientation, big_endian):
    """A TIFF structure as a phone's EXIF holds it: IFD0 with Make, Model, Orientation, the
    resolution and a pointer to the Exif IFD (values longer than 4 bytes stored after the IFDs)."""
    e = '>' if big_endian else '<'
    make, model = b'cnnlens\0', b'orientation fixture\0'
    n0, n_exif = 7, 2
    ifd0 = 8
    exif_ifd = ifd0 + 2 + 12 * n0 + 4
    data = exif_ifd + 2 + 12 * n_exif + 4
    make_at, model_at = data, data + len(make)
    res_at = model_at + len(model)
    entries0 = [
        (0x010F, 2, len(make), struct.pack(e + 'I', make_at)),
        (0x0110, 2, len(model), struct.pack(e + 'I', model_at)),
        (0x0112, 3, 1, struct.pack(e + 'HH', orientation, 0)),
        (0x011A, 5, 1, struct.pack(e + 'I', res_at)),
        (0x011B, 5, 1, struct.pack(e + 'I', res_at + 8)),
        (0x0128, 3, 1, struct.pack(e + 'HH', 2, 0)),
        (0x8769, 4, 1, struct.pack(e + 'I', exif_ifd)),
    ]
    entries_exif = [(0x9000, 7, 4, b'0232'), (0xA001, 3, 1, struct.pack(e + 'HH', 1, 0))]

    def ifd(entries):
        b = struct.pack(e + 'H', len(entries))
        for tag, kind, count, value in entries:
            b += struct.pack(e + 'HHI', tag, kind, count) + value
        return b + struct.pack(e + 'I', 0)

    tiff = (b'MM\0*' if big_endian else b'II*\0') + struct.pack(e + 'I', ifd0)
    tiff += ifd(entries0) + ifd(entries_exif) + make + model + struct.pack(e + 'IIII', 72, 1, 72, 1)
    assert len(tiff) == res_at + 16
    return tiff


def with_exif(jpeg, tiff):
    """The JPEG with its APP0 (JFIF) segment replaced by an APP1 Exif segment, as cameras write."""
    assert jpeg[:2] == b'\xff\xd8'
    rest = jpeg[2:]
    if rest[:2] == b'\xff\xe0':
        rest = rest[2 + struct.unpack('>H', rest[2:4])[0]:]
    payload = b'Exif\0\0' + tiff
    return b'\xff\xd8\xff\xe1' + struct.pack('>H', 2 + len(payload)) + payload + rest


def jpegtran(args, data):
    return subprocess.run(['jpegtran', '-perfect', '-copy', 'none'] + args, input=data, stdout=subprocess.PIPE, check=True).stdout


def mean_abs_diff(a, b):
    if a.size != b.size:
        return float('inf')
    return sum(ImageStat.Stat(ImageChops.difference(a.convert('RGB'), b.convert('RGB'))).mean) / 3


def check_upright(path, upright, orientation, tolerance):
    """PIL turns the file upright by its tag: it must be the upright photo, closer to it than any
    other orientation's turn of the stored pixels."""
    im = Image.open(path)
    assert im.getexif().get(0x0112) == orientation, f'{path}: PIL reads orientation {im.getexif().get(0x0112)}'
    shown = ImageOps.exif_transpose(im)
    d = mean_abs_diff(shown, upright)
    assert d <= tolerance, f'{path}: turned upright by PIL, it differs from the upright photo by {d:.3f} on average'
    stored = im.convert('RGB')
    for method in Image.Transpose:
        other = stored.transpose(method)
        if other.size == upright.size and mean_abs_diff(other, shown.convert('RGB')) > 0:
            assert mean_abs_diff(other, upright) > d, f'{path}: {method} matches the upright photo as well as the tag'
    return d


AVIF_ENCODER = r'''
#include <avif/avif.h>
#include <stdio.h>
#include <stdlib.h>
/* rgb_encode W H QUALITY IN.rgb OUT.avif [IROT IMIR]: 8-bit RGB in, 4:2:0 AVIF out; IROT
   (0..3, turns of 90 degrees counter-clockwise) and IMIR (0: top-bottom, 1: left-right)
   are written as the container's transform properties when given (-1: none). */
int main(int argc, char** argv) {
    int w = atoi(argv[1]), h = atoi(argv[2]), q = atoi(argv[3]);
    int irot = argc > 6 ? atoi(argv[6]) : -1, imir = argc > 7 ? atoi(argv[7]) : -1;
    FILE* f = fopen(argv[4], "rb");
    unsigned char* px = malloc((size_t)w * h * 3);
    if (!f || fread(px, 1, (size_t)w * h * 3, f) != (size_t)w * h * 3) return 1;
    fclose(f);
    avifImage* img = avifImageCreate(w, h, 8, AVIF_PIXEL_FORMAT_YUV420);
    avifRGBImage rgb;
    avifRGBImageSetDefaults(&rgb, img);
    rgb.format = AVIF_RGB_FORMAT_RGB;
    rgb.pixels = px;
    rgb.rowBytes = w * 3;
    if (avifImageRGBToYUV(img, &rgb) != AVIF_RESULT_OK) return 2;
    if (irot >= 0) { img->transformFlags |= AVIF_TRANSFORM_IROT; img->irot.angle = (uint8_t)irot; }
    if (imir >= 0) { img->transformFlags |= AVIF_TRANSFORM_IMIR; img->imir.mode = (uint8_t)imir; }
    avifEncoder* enc = avifEncoderCreate();
    enc->speed = 6;
    enc->minQuantizer = enc->maxQuantizer = q;
    avifRWData out = AVIF_DATA_EMPTY;
    avifResult r = avifEncoderWrite(enc, img, &out);
    if (r != AVIF_RESULT_OK) { fprintf(stderr, "%s\n", avifResultToString(r)); return 3; }
    f = fopen(argv[5], "wb");
    fwrite(out.data, 1, out.size, f);
    fclose(f);
    return 0;
}'''


def write_avif(image, path, quantizer, irot=-1, imir=-1):
    cc = shutil.which('cc') or shutil.which('gcc')
    with tempfile.TemporaryDirectory() as tmp:
        src, exe, raw = (os.path.join(tmp, n) for n in ('enc.c', 'enc', 'in.rgb'))
        open(src, 'w').write(AVIF_ENCODER)
        subprocess.run([cc, '-O1', src, '-o', exe, '-lavif'], check=True)
        open(raw, 'wb').write(image.tobytes())
        subprocess.run([exe, str(image.width), str(image.height), str(quantizer), raw, path, str(irot), str(imir)], check=True)


# AVIF turns its pixels by container properties instead of EXIF (HEIF, ISO/IEC 23008-12): irot
# turns counter-clockwise by angle x 90 degrees, then imir mirrors (mode 0: top and bottom
# exchanged; 1: left and right). Every turn and mirror of the square's eight, plus mode 0 twice.
AVIF_TRANSFORMS = [(a, -1) for a in range(4)] + [(a, 1) for a in range(4)] + [(1, 0), (2, 0)]


def avif_stored(upright, angle, mode):
    """The pixels to store so that irot `angle` then imir `mode` show `upright`: the inverse
    steps in reverse order, by the specification's words (PIL rotates counter-clockwise)."""
    img = upright
    if mode >= 0:
        img = img.transpose(Image.Transpose.FLIP_TOP_BOTTOM if mode == 0 else Image.Transpose.FLIP_LEFT_RIGHT)
    return img.rotate(-90 * angle, expand=True)


def main():
    os.makedirs(os.path.join(OUT, 'orientation'), exist_ok=True)
    source = open(SOURCE, 'rb').read()
    upright_jpeg = jpegtran(['-crop', CROP], source)
    upright = Image.open(io.BytesIO(upright_jpeg)).convert('RGB')
    upright_png = upright.quantize(256, dither=Image.Dither.NONE)
    worst = 0.0
    for o in range(1, 9):
        tiff = tiff_with_orientation(o, big_endian=o % 2 == 0)
        jpg = os.path.join(OUT, 'orientation', f'astronaut_{o}.jpg')
        open(jpg, 'wb').write(with_exif(jpegtran(STORE[o], upright_jpeg), tiff))
        worst = max(worst, check_upright(jpg, upright, o, tolerance=1.0))
        png = os.path.join(OUT, 'orientation', f'astronaut_{o}.png')
        stored = upright_png if STORE_PIL[o] is None else upright_png.transpose(STORE_PIL[o])
        stored.save(png, optimize=True, exif=tiff)
        check_upright(png, upright_png, o, tolerance=0.0)
    print(f'orientation fixtures: JPEGs within {worst:.3f} levels on average of the upright crop, PNGs exact')

    for angle, mode in AVIF_TRANSFORMS:
        name = f'astronaut_irot{angle}' + (f'_imir{mode}' if mode >= 0 else '') + '.avif'
        write_avif(avif_stored(upright_png.convert('RGB'), angle, mode), os.path.join(OUT, 'orientation', name), quantizer=24,
                   irot=angle if angle else -1, imir=mode)

    photo = Image.open(SOURCE).convert('RGB')
    photo.save(os.path.join(OUT, 'astronaut.webp'), quality=80, method=6)
    write_avif(photo, os.path.join(OUT, 'astronaut.avif'), quantizer=30)
    for name in sorted(os.listdir(OUT)) + sorted('orientation/' + n for n in os.listdir(os.path.join(OUT, 'orientation'))):
        path = os.path.join(OUT, name)
        if os.path.isfile(path) and not name.endswith('.py'):
            print(f'  {name:34} {os.path.getsize(path):7} bytes')


if __name__ == '__main__':
    sys.exit(main())
