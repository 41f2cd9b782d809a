"""Writes the oracle's input images: the astronaut face crop (tests/data/astronaut_face.png) and
tests/data/oracle/inputs.{f32,json} (N x 64x64x1 float32 LE, NHWC, in [0,1]).
Run from the repo root with Debian's python3 (numpy, skimage): /usr/bin/python3 tests/oracle/make_inputs.py"""
import json
import numpy as np
from skimage import data, io

H = W = 64
FACE_BOX = (70, 170, 186, 286)  # astronaut rows [70,186), cols [170,286): brow-to-chin, ear-to-ear, 116 px


def area_matrix(n_in, n_out):
    """(n_out, n_in) weights of the exact box filter: output i averages source [i*s, (i+1)*s), s = n_in/n_out."""
    s = n_in / n_out
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * s, (i + 1) * s
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
            w[i, j] = (min(hi, j + 1) - max(lo, j)) / s
    return w


def bilinear_matrix(n_in, n_out):
    """(n_out, n_in) weights of bilinear interpolation with half-pixel centres, edges clamped."""
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1.0)
        j = int(np.floor(x)); f = x - j
        w[i, j] += 1 - f
        w[i, min(j + 1, n_in - 1)] += f
    return w


def resize(img, matrix):
    return matrix(img.shape[0], H) @ img @ matrix(img.shape[1], W).T


def main():
    r0, c0, r1, c1 = FACE_BOX
    face = data.astronaut()[r0:r1, c0:c1]
    io.imsave("tests/data/astronaut_face.png", face, check_contrast=False)
    rgb = face.astype(np.float64)
    gray = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]

    lfw = data.lfw_subset()  # the first 100 of the 200 crops are faces
    rng = np.random.RandomState(1234)
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    cases = [
        ("astronaut_face", f"astronaut rows {r0}:{r1} cols {c0}:{c1}, gray 0.299R+0.587G+0.114B, area-resized, /255",
         resize(gray, area_matrix) / 255.0),
        ("lfw_0", "skimage lfw_subset()[0], 25x25 bilinear (half-pixel) to 64x64", resize(lfw[0], bilinear_matrix)),
        ("lfw_1", "skimage lfw_subset()[1], 25x25 bilinear (half-pixel) to 64x64", resize(lfw[1], bilinear_matrix)),
        ("random_0", "uniform [0,1), numpy RandomState(1234), first draw", rng.random_sample((H, W))),
        ("random_1", "uniform [0,1), numpy RandomState(1234), second draw", rng.random_sample((H, W))),
        ("ramp_sine", "0.25 + 0.5*x/63 + 0.25*sin(2*pi*y/16)", 0.25 + 0.5 * x / (W - 1) + 0.25 * np.sin(2 * np.pi * y / 16)),
    ]
    batch = np.stack([c[2] for c in cases])[..., None].astype("<f4")
    assert batch.min() >= 0 and batch.max() <= 1
    batch.tofile("tests/data/oracle/inputs.f32")
    meta = {"count": len(cases), "height": H, "width": W, "channels": 1, "dtype": "float32", "layout": "NHWC",
            "cases": [{"name": n, "description": d} for n, d, _ in cases]}
    with open("tests/data/oracle/inputs.json", "w") as f:
        json.dump(meta, f, indent=1)
    print(f"wrote {len(cases)} cases, face box rows {r0}:{r1} cols {c0}:{c1}")


if __name__ == "__main__":
    main()
