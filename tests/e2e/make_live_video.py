"""Writes the fake camera's video for tests/e2e/live.test.mjs and bench/live.mjs: a Y4M file
(YUV4MPEG2, 4:2:0) in which the astronaut photo pans and zooms across a 640x480 frame, so the
face moves and changes size from frame to frame. Chromium loops it as its fake camera
(--use-file-for-fake-video-capture).

    /usr/bin/python3 tests/e2e/make_live_video.py OUT.y4m [--frames 60] [--fps 30]

Needs Debian's python3-pil.
"""
import argparse
import math
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
W, H = 640, 480


def frame(photo, t):
    """The photo scaled by 0.8..1.0 and moved along a loop, at t in [0, 1)."""
    s = 0.9 + 0.1 * math.sin(2 * math.pi * t)
    side = round(photo.width * s)
    scaled = photo.resize((side, side), Image.BILINEAR)
    x = round((W - side) / 2 + 60 * math.sin(2 * math.pi * t))
    y = round((H - side) / 2 + 20 * math.cos(2 * math.pi * t)) + 60  # the face sits in the photo's upper half
    canvas = Image.new('RGB', (W, H), (96, 96, 96))
    canvas.paste(scaled, (x, y))
    return canvas


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--frames', type=int, default=60)
    ap.add_argument('--fps', type=int, default=30)
    a = ap.parse_args()
    photo = Image.open(ROOT / 'tests/data/astronaut.jpg').convert('RGB')
    with open(a.out, 'wb') as f:
        f.write(f'YUV4MPEG2 W{W} H{H} F{a.fps}:1 Ip A1:1 C420jpeg\n'.encode())
        for i in range(a.frames):
            y, cb, cr = frame(photo, i / a.frames).convert('YCbCr').split()
            f.write(b'FRAME\n')
            f.write(y.tobytes())
            f.write(cb.resize((W // 2, H // 2), Image.BOX).tobytes())
            f.write(cr.resize((W // 2, H // 2), Image.BOX).tobytes())


if __name__ == '__main__':
    main()
