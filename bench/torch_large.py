#!/usr/bin/env python3
"""PyTorch's side of the 224x224 comparison (bench/large.mjs): exports torchvision classifiers
with seeded random weights to ONNX (opset 17, input "image" [N,3,224,224]) once, and times
PyTorch 1.13 on them: the frozen TorchScript forward (torch.jit.freeze of the traced model, the
fastest inference path PyTorch has here) per image at each batch and thread count, and the eager
input gradient (d logit[3] / d image) at batch 1. Medians after warm-up, ms per image; one JSON
object on stdout.
    /usr/bin/python3 bench/torch_large.py --dir build/bench-large --models resnet18,mobilenet_v2
        --threads 1,2 --batches 1,8 --runs 10
Any torchvision classifier name works in --models (resnet50 for the memory target of
`cnnlens bench --memory`: --models resnet50 --export-only).

--methods smoothgrad,lime also times whole explanations of one photo, as `cnnlens bench --model
X.onnx --method NAME --image PHOTO --preset imagenet` does them (median of --method-runs, ms per
explanation; --methods-only skips the forward and gradient rows). The photo is skimage's
astronaut (512x512) box-filtered to 224x224 and written once as <dir>/astronaut224.png, which
both sides read (at 224 our resampling is the identity), scaled to [0, 1] and normalized with
ImageNet's mean and std. The work is our methods' defaults:
  smoothgrad  SmoothGrad-50: 50 copies x + N(0, sigma^2), sigma = 0.15 (max(x) - min(x)) of the
              normalized input x (PAIR's stdev_spread, our --noise), the gradient of logit 3 of
              each (eager model, autograd.grad of the summed logits), averaged. Ours runs the 50
              copies as one batch (its --batch 50). PyTorch is timed in batches of 50 and of 10
              (--smoothgrad-batches) and the faster counts: neither wins everywhere (batch 10
              won on resnet18 at 1 thread, batch 50 on mobilenet_v2 and efficientnet_b0). The
              frozen TorchScript model was no steady gain for gradients (on resnet18 faster at
              one of four batch and thread settings), so the gradients are eager, as above.
  lime        LIME-1000 as lime_image with our defaults: SLIC superpixels of the [0, 1] RGB photo
              (skimage, n_segments 100, compactness 1, sigma 1, start_label 0: our slic follows
              skimage 0.19), 1000 Bernoulli(0.5) on/off rows (row 0 all on), hidden segments
              black (the normalized value of 0), the frozen model in batches of 100 (our
              --batch), the softmax probability of class 3, cosine distance to the all-on row,
              kernel sqrt(exp(-d^2 / 0.25^2)), weighted ridge (alpha 1, intercept unpenalized)
              and its weighted R^2, as lime_base. lime_base's feature_selection 'auto' would fit
              the ridge twice (highest_weights, then the chosen features); both sides fit once.
Needs Debian's python3-torch, python3-torchvision and python3-skimage.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--dir", default="build/bench-large")
p.add_argument("--models", default="resnet18,mobilenet_v2,efficientnet_b0")
p.add_argument("--threads", default="1,2")
p.add_argument("--batches", default="1,8")
p.add_argument("--runs", type=int, default=10)
p.add_argument("--export-only", action="store_true")
p.add_argument("--methods", default="none", help="none, or some of smoothgrad,lime")
p.add_argument("--methods-only", action="store_true", help="skip the forward and gradient rows")
p.add_argument("--method-runs", type=int, default=3)
p.add_argument("--smoothgrad-batches", default="50,10", help="timed each; the faster counts")
p.add_argument("--image", default="", help="the 224x224 photo (default: <dir>/astronaut224.png)")
a = p.parse_args()
os.makedirs(a.dir, exist_ok=True)
METHODS = [] if a.methods == "none" else a.methods.split(",")
for m in METHODS:
    if m not in ("smoothgrad", "lime"):
        sys.exit(f"torch_large.py: unknown method '{m}' (smoothgrad, lime)")
CLS = 3
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def median_ms(fn, runs, warmup=3):
    for _ in range(warmup):
        fn()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(t)


def photo(path):
    """The 224x224 RGB photo as uint8 HWC, written on first use: skimage's astronaut box-filtered
    512 -> 224 (the exact area filter our image_to_input uses when it shrinks)."""
    from skimage import data, io
    if not os.path.exists(path):
        def area(n_in, n_out):
            s, w = n_in / n_out, np.zeros((n_out, n_in))
            for i in range(n_out):
                lo, hi = i * s, (i + 1) * s
                for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), n_in)):
                    w[i, j] = (min(hi, j + 1) - max(lo, j)) / s
            return w
        src = data.astronaut().astype(np.float64)
        ry, rx = area(src.shape[0], 224), area(src.shape[1], 224)
        out = np.stack([ry @ src[..., k] @ rx.T for k in range(3)], axis=-1)
        io.imsave(path, np.clip(np.rint(out), 0, 255).astype(np.uint8), check_contrast=False)
        print(f"wrote {path}", file=sys.stderr)
    img = io.imread(path)
    assert img.shape == (224, 224, 3), f"{path}: want 224x224 RGB, got {img.shape}"
    return img


def smoothgrad(model, x, gen, n=50, noise=0.15, batch=50):
    sigma = noise * float(x.max() - x.min())
    total = torch.zeros_like(x[0])
    for first in range(0, n, batch):
        k = min(batch, n - first)
        noisy = (x + sigma * torch.randn((k,) + tuple(x.shape[1:]), generator=gen)).requires_grad_(True)
        (g,) = torch.autograd.grad(model(noisy)[:, CLS].sum(), noisy)
        total += g.sum(dim=0)
    return total / n, sigma


def lime(model, img01, x, rng, samples=1000, batch=100, kernel_width=0.25, alpha=1.0):
    from skimage.segmentation import slic
    segments = slic(img01, n_segments=100, compactness=1, sigma=1, start_label=0)
    m = int(segments.max()) + 1
    z = rng.integers(0, 2, size=(samples, m)).astype(np.uint8)
    z[0] = 1
    black = (-MEAN / STD).view(1, 3, 1, 1)
    seg = torch.from_numpy(segments.astype(np.int64))
    y = np.empty(samples, np.float64)
    with torch.no_grad():
        for first in range(0, samples, batch):
            keep = torch.from_numpy(z[first:first + batch].astype(bool))[:, seg]  # [n, H, W]
            imgs = torch.where(keep[:, None], x, black)
            y[first:first + batch] = torch.softmax(model(imgs), dim=1)[:, CLS].double().numpy()
    on = z.sum(axis=1)
    d = 1.0 - np.sqrt(on / m)  # cosine distance of each row to the all-on row (1 for all-off)
    w = np.sqrt(np.exp(-d * d / kernel_width ** 2))
    X = np.hstack([z.astype(np.float64), np.ones((samples, 1))])
    A = X.T @ (X * w[:, None]) + np.diag([alpha] * m + [0.0])
    coef = np.linalg.solve(A, X.T @ (w * y))
    pred = X @ coef
    my = np.average(y, weights=w)
    sse, sst = np.sum(w * (y - pred) ** 2), np.sum(w * (y - my) ** 2)
    r2 = 1.0 - sse / sst if sst > 0 else float(sse == 0)  # a constant score: as ours
    return coef[:m], m, r2


out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
if METHODS:  # written with the exports, so that our side finds it before PyTorch's first timing
    img = photo(a.image or os.path.join(a.dir, "astronaut224.png"))
    img01 = img.astype(np.float32) / 255.0
    x_photo = ((torch.from_numpy(img01).permute(2, 0, 1)[None] - MEAN) / STD).contiguous()
for name in a.models.split(","):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    path = os.path.join(a.dir, f"{name}.onnx")
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with torch.no_grad():
            torch.onnx.export(model, torch.rand(1, 3, 224, 224), tmp, opset_version=17,
                              input_names=["image"], output_names=["logits"],
                              dynamic_axes={"image": {0: "n"}, "logits": {0: "n"}})
        os.replace(tmp, path)
        print(f"exported {path}", file=sys.stderr)
    if a.export_only:
        continue
    r = {"onnx": path, "forward": {}, "gradient": {}}
    g = torch.Generator().manual_seed(42)
    for threads in [int(t) for t in a.threads.split(",")] if not a.methods_only else []:
        torch.set_num_threads(threads)
        for batch in [int(b) for b in a.batches.split(",")]:
            x = torch.rand(batch, 3, 224, 224, generator=g)
            with torch.no_grad():
                frozen = torch.jit.freeze(torch.jit.trace(model, x))
                ms = median_ms(lambda: frozen(x), a.runs)
            r["forward"][f"{threads}t_b{batch}"] = ms / batch
            print(f"{name} torch frozen forward {threads}t b{batch}: {ms / batch:.2f} ms/image",
                  file=sys.stderr)
        x = torch.rand(1, 3, 224, 224, generator=g)

        def gradient():
            xi = x.clone().requires_grad_(True)
            model(xi)[0, 3].backward()
            return xi.grad

        ms = median_ms(gradient, a.runs)
        r["gradient"][f"{threads}t_b1"] = ms
        print(f"{name} torch eager input gradient {threads}t: {ms:.2f} ms", file=sys.stderr)
    if METHODS:
        x = x_photo
        r["methods"], r["method_notes"] = {}, {}
        for threads in [int(t) for t in a.threads.split(",")]:
            torch.set_num_threads(threads)
            if "smoothgrad" in METHODS:
                gen = torch.Generator().manual_seed(1)
                best = None
                for batch in [int(b) for b in a.smoothgrad_batches.split(",")]:
                    _, sigma = smoothgrad(model, x, gen, batch=batch)  # warm-up, as ours gets
                    ms = median_ms(lambda: smoothgrad(model, x, gen, batch=batch), a.method_runs,
                                   warmup=0)
                    print(f"{name} torch SmoothGrad-50 {threads}t (eager, batch {batch}, sigma "
                          f"{sigma:.4f}): {ms:.0f} ms", file=sys.stderr)
                    if best is None or ms < best[0]:
                        best = (ms, batch)
                r["methods"][f"smoothgrad_{threads}t"] = best[0]
                r["method_notes"].setdefault("smoothgrad", {"samples": 50, "sigma": sigma,
                                                            "model": "eager"})
                r["method_notes"]["smoothgrad"][f"batch_{threads}t"] = best[1]
            if "lime" in METHODS:
                with torch.no_grad():
                    frozen = torch.jit.freeze(torch.jit.trace(model, x.repeat(100, 1, 1, 1)))
                    for _ in range(3):  # TorchScript's profiling runs, not a whole LIME
                        frozen(x.repeat(100, 1, 1, 1))
                rng, last = np.random.default_rng(1), []
                # No whole warm-up run (1000 images in 10 batches); ours gets none either.
                ms = median_ms(lambda: last.append(lime(frozen, img01, x, rng)), a.method_runs,
                               warmup=0)
                _, segs, r2 = last[-1]
                r["methods"][f"lime_{threads}t"] = ms
                r["method_notes"]["lime"] = {"samples": 1000, "segments": segs, "batch": 100,
                                             "model": "frozen", "r2": r2}
                print(f"{name} torch LIME-1000 {threads}t ({segs} segments, R^2 {r2:.3f}): "
                      f"{ms:.0f} ms", file=sys.stderr)
    out["models"][name] = r
print(json.dumps(out))
