"""Writes the labeled-CSV fixtures of tests/eval: fer2013_20.csv (FER2013's `emotion,pixels,Usage`)
and course_10.csv (`label,feature`), 48x48 gray faces as 2304 space-separated 0..255 values.
Run from the repo root with Debian's python3 (numpy, skimage): /usr/bin/python3 tests/data/eval/make_fixtures.py"""
import os
import sys

import numpy as np
from skimage import data

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "oracle"))
from make_inputs import area_matrix, bilinear_matrix  # noqa: E402  (the same resampling as the oracle inputs)

SIDE = 48
FACE_BOX = (70, 170, 186, 286)  # the astronaut crop of tests/data/astronaut_face.png
HAPPY = 3


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
