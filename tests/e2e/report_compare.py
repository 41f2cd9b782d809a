#!/usr/bin/python3
"""Compares two self-contained cnnlens reports (report.html) item for item, for report.test.mjs.

Usage: /usr/bin/python3 tests/e2e/report_compare.py A.html B.html
Prints JSON: each page's text with its pictures replaced by "IMG0", "IMG1", ... (so the
sections, paragraphs and tables can be compared), and per picture pair its size in each page,
whether the PNG bytes are equal, the largest difference of a channel value and the fraction of
values that differ by more than 2 (of 255). Pictures that are not data: URIs of PNGs are an error.
"""
import base64
import io
import json
import re
import sys

import numpy as np
from PIL import Image

URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]*)"')


def split(path):
    text = open(path, encoding='utf-8').read()
    pngs = []

    def keep(m):
        pngs.append(base64.b64decode(m.group(1), validate=True))
        return 'src="IMG%d"' % (len(pngs) - 1)

    return URI.sub(keep, text), pngs


def main():
    a_text, a_png = split(sys.argv[1])
    b_text, b_png = split(sys.argv[2])
    pictures = []
    for a, b in zip(a_png, b_png):
        ia, ib = Image.open(io.BytesIO(a)), Image.open(io.BytesIO(b))
        entry = {'sizeA': list(ia.size) + [ia.mode], 'sizeB': list(ib.size) + [ib.mode],
                 'sameBytes': a == b}
        if ia.size == ib.size and ia.mode == ib.mode:
            d = np.abs(np.asarray(ia, dtype=np.int16) - np.asarray(ib, dtype=np.int16))
            entry['maxDiff'] = int(d.max())
            entry['fractionOver2'] = float((d > 2).mean())
        pictures.append(entry)
    json.dump({'textA': a_text, 'textB': b_text, 'picturesA': len(a_png),
               'picturesB': len(b_png), 'pictures': pictures}, sys.stdout)


if __name__ == '__main__':
    main()
