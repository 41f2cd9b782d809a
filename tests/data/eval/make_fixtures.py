"""Writes the labeled-CSV fixtures of tests/eval: fer2013_20.csv (FER2013's `emotion,pixels,Usage`)
and course_10.csv (`label,feature`), 48x48 gray faces as 2304 space-separated 0..255 values.
Run from the repo root with Debian's python3 (numpy, skimage): /usr/bin/python3 tests/data/eval/make_fixtures.py"""
import numpy as np
from skimage import data

SIDE = 48
FACE_BOX = (70, 170, 186, 286)  # the astronaut crop of tests/data/astronaut_face.png
HAPPY = 3


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
    return matrix(img.shape[0], SIDE) @ img @ matrix(img.shape[1], SIDE).T


def to_pixels(img01):
    return " ".join(str(v) for v in np.clip(np.rint(img01 * 255), 0, 255).astype(int).ravel())


def main():
    r0, c0, r1, c1 = FACE_BOX
    rgb = data.astronaut()[r0:r1, c0:c1].astype(np.float64)
    astronaut = resize(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2], area_matrix) / 255.0
    lfw = data.lfw_subset()  # the first 100 of the 200 25x25 crops are faces
    faces = [resize(lfw[i], bilinear_matrix) for i in range(28)]

    # Row 1 is the smiling astronaut (happy); LFW labels are arbitrary (cycling 0..6), as are
    # the Usage values, which follow FER2013's 80/10/10 split.
    with open("tests/data/eval/fer2013_20.csv", "w", newline="\n") as f:
        f.write("emotion,pixels,Usage\n")
        f.write(f"{HAPPY},{to_pixels(astronaut)},Training\n")
        for i in range(19):
            usage = "Training" if i < 13 else "PublicTest" if i < 16 else "PrivateTest"
            f.write(f"{i % 7},{to_pixels(faces[i])},{usage}\n")
    with open("tests/data/eval/course_10.csv", "w", newline="\n") as f:
        f.write("label,feature\n")
        for i in range(10):
            f.write(f"{(i + 2) % 7},{to_pixels(faces[19 + i] if i < 9 else astronaut)}\n")
    print("wrote tests/data/eval/fer2013_20.csv and course_10.csv")


if __name__ == "__main__":
    main()
