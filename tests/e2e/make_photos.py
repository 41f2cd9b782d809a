"""Photos saved the ways phones and the web save them, made from scikit-image's astronaut for the
browser tests (tests/e2e/photos.test.mjs) and the drop-to-faces benchmark (bench/photos.mjs).
Nothing here is committed: the files are made at test time into OUT (a file newer than this
script is kept).

Usage: /usr/bin/python3 tests/e2e/make_photos.py OUT NAME...   (Debian's python3: PIL, skimage)

Names:
  astronaut.png, astronaut.webp, astronaut.avif   the 512x512 photo, lossless and lossy (AVIF by
                                                  avifenc of libavif-bin)
  jpeg-<N>mp.jpg                                  the astronaut upscaled (bicubic) to about N
                                                  megapixels at 4:3, the top of the square kept
                                                  (the face is in its upper half); N in 0.25
                                                  (512x512), 12, 16, 48
  orient-<k>.jpg, k = 1..8                        one 2048x2048 photo stored as EXIF orientation k
                                                  asks (orient-1: upright): each is the upright
                                                  file turned by jpegtran -perfect, whose decoded
                                                  pixels turned back are identical to the upright
                                                  file's, because every 8x8 block is flat (the
                                                  astronaut's face region enlarged 8x, nearest;
                                                  4:4:4, so only DC coefficients)
  astronaut.tiff                                  a real TIFF: neither the engine nor Chromium
                                                  decodes TIFF
"""
import io
import os
import struct
import subprocess
import sys

import numpy as np
from PIL import Image, ImageOps
from skimage import data

# EXIF orientation k -> the jpegtran operation that stores the upright picture so that a viewer
# applying k shows it upright (the inverse of what k asks the viewer to do).
STORE = {1: None, 2: ['-flip', 'horizontal'], 3: ['-rotate', '180'], 4: ['-flip', 'vertical'],
         5: ['-transpose'], 6: ['-rotate', '270'], 7: ['-transverse'], 8: ['-rotate', '90']}
SIZES = {'0.25': (512, 512), '12': (4000, 3000), '16': (4608, 3456), '48': (8000, 6000)}


def astronaut():
    return Image.fromarray(data.astronaut())


def exif_app1(orientation):
    """A JPEG APP1 segment holding EXIF IFD0 with one entry, Orientation (big-endian TIFF)."""
    tiff = b'MM\x00\x2a' + struct.pack('>I', 8) + struct.pack('>H', 1)
    tiff += struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + struct.pack('>I', 0)
    body = b'Exif\x00\x00' + tiff
    return b'\xff\xe1' + struct.pack('>H', len(body) + 2) + body


def with_exif(jpeg, orientation):
    assert jpeg[:2] == b'\xff\xd8'
    return jpeg[:2] + exif_app1(orientation) + jpeg[2:]


def jpeg_bytes(img, **kw):
    b = io.BytesIO()
    img.save(b, format='JPEG', **kw)
    return b.getvalue()


def make(out, name):
    path = os.path.join(out, name)
    if os.path.exists(path) and os.path.getmtime(path) > os.path.getmtime(__file__):
        return
    tmp = path + '.tmp'
    if name == 'astronaut.png':
        astronaut().save(tmp, format='PNG')
    elif name == 'astronaut.webp':
        astronaut().save(tmp, format='WEBP', quality=92, method=4)
    elif name == 'astronaut.avif':
        png = os.path.join(out, 'astronaut.png')
        make(out, 'astronaut.png')
        subprocess.run(['avifenc', '--min', '8', '--max', '16', '-s', '6', '-y', '444', png, tmp],
                       check=True, stdout=subprocess.DEVNULL)
    elif name == 'astronaut.tiff':
        astronaut().save(tmp, format='TIFF')
    elif name.startswith('jpeg-') and name.endswith('mp.jpg'):
        w, h = SIZES[name[5:-6]]
        img = astronaut() if (w, h) == (512, 512) else astronaut().resize((w, w), Image.BICUBIC).crop((0, 0, w, h))
        with open(tmp, 'wb') as f:
            f.write(jpeg_bytes(img, quality=90))
    elif name.startswith('orient-') and name.endswith('.jpg'):
        k = int(name[7:-4])
        upright = os.path.join(out, 'orient-upright.jpg')
        if not os.path.exists(upright) or os.path.getmtime(upright) < os.path.getmtime(__file__):
            face = astronaut().crop((96, 0, 352, 256)).resize((2048, 2048), Image.NEAREST)
            with open(upright + '.tmp', 'wb') as f:
                f.write(jpeg_bytes(face, quality=92, subsampling=0))
            os.replace(upright + '.tmp', upright)
        stored = (subprocess.run(['jpegtran', '-perfect', '-copy', 'none', *STORE[k], upright], check=True,
                                 stdout=subprocess.PIPE).stdout if STORE[k] else open(upright, 'rb').read())
        with open(tmp, 'wb') as f:
            f.write(with_exif(stored, k))
        # The claim the page test rests on: shown upright, the pixels equal the upright file's.
        want = np.asarray(Image.open(upright))
        got = np.asarray(ImageOps.exif_transpose(Image.open(tmp)))
        assert got.shape == want.shape and (got == want).all(), f'{name}: turned back, pixels differ'
    else:
        sys.exit(f'make_photos.py: unknown photo {name}')
    os.replace(tmp, path)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name in sys.argv[2:]:
        make(out, name)


if __name__ == '__main__':
    main()
