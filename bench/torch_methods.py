"""PyTorch side of the per-method benchmark (bench/methods.mjs): the same work as `cnnlens bench
--method NAME` on the same face, with Debian's PyTorch (python3-torch) on a set number of threads.

The model is the float32 port of the bundled TF.js graph in tests/oracle/torch_explain.py (checked
there against TF.js), traced and frozen with TorchScript when that is faster (it is: eager PyTorch
sends several convolutions to the reference BLAS at small batches). Methods, as a user of PyTorch
would write them:
  saliency    d logit_3 / d x at batch 1
  smoothgrad  50 noisy copies (sigma 0.15 of the [0,1] range) as one batch, one backward
  ig          50 midpoint steps from a black baseline as one batch, one backward
  lime        what the `lime` package does (it is not installable here): SLIC superpixels
              (skimage, n_segments 100, compactness 1, sigma 1, as LIME's face notebook), 1000
              Bernoulli(0.5) masks, perturbed images built in numpy (hidden segments black),
              model calls in batches of 10 (lime's default batch_size) or 100, cosine distances,
              kernel sqrt(exp(-d^2 / 0.25^2)), weighted ridge (alpha 1) on the probability
  filter      100 Adam steps (lr 0.05) on the pixels, ascending logit 3 through the whole net
Prints one JSON object per line: {"method", "threads", "variant", "ms", "ms_min", "ms_max", "runs"}.
Usage: /usr/bin/python3 bench/torch_methods.py [--threads N] [--runs N] [--quick-runs N] [--methods a,b,...]"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'oracle'))
import torch_explain as te  # noqa: E402  (the port of the bundled model)

FACE = 'tests/data/astronaut_face.png'
CLS = 3


def load_face():
    """The astronaut face as the engine sees it: gray in [0,1], exact area resampling to 64x64
    (tests/oracle/make_inputs.py reproduces image_to_input)."""
    from skimage import io
    import make_inputs
    img = io.imread(FACE).astype(np.float64) / 255.0
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    return make_inputs.resize(img, make_inputs.area_matrix).astype(np.float32)


class Net(torch.nn.Module):
    """Logits of the float32 port (the weights become constants when traced)."""

    def __init__(self, port, guided=False):
        super().__init__()
        self.port = port
        self.guided = guided

    def forward(self, x_nhwc):
        return self.port.forward(x_nhwc, self.guided)[te.LOGITS]


def make_model(frozen):
    port = te.GraphPort(te.MODEL_DIR)
    port.consts = {k: (v.float() if v.is_floating_point() else v) for k, v in port.consts.items()}
    net = Net(port).eval()
    if not frozen:
        return net
    with torch.no_grad():
        traced = torch.jit.trace(net, torch.zeros(1, 64, 64, 1))
    return torch.jit.freeze(traced.eval())


def input_grad(model, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x)[:, CLS].sum(), x)
    return g


def saliency(model, face):
    return input_grad(model, face).abs()


def smoothgrad(model, face, n=50, sigma=0.15):
    gen = torch.Generator().manual_seed(1)
    noisy = face + sigma * torch.randn((n,) + tuple(face.shape[1:]), generator=gen)
    return input_grad(model, noisy).mean(dim=0)


def ig(model, face, steps=50):
    alphas = (torch.arange(steps, dtype=torch.float32) + 0.5) / steps
    return face[0] * input_grad(model, alphas.view(-1, 1, 1, 1) * face).mean(dim=0)


def lime(model, face, samples=1000, batch=10, seed=1):
    from skimage.segmentation import slic
    img = face[0, :, :, 0].numpy()
    segments = slic(img, n_segments=100, compactness=1, sigma=1, channel_axis=None, start_label=0)
    m = int(segments.max()) + 1
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, size=(samples, m)).astype(np.uint8)
    z[0] = 1
    y = np.empty(samples, np.float64)
    with torch.no_grad():
        for first in range(0, samples, batch):
            rows = z[first:first + batch]
            imgs = np.repeat(img[None], len(rows), axis=0)
            for r, zr in enumerate(rows):
                imgs[r][np.isin(segments, np.flatnonzero(zr == 0))] = 0.0
            probs = torch.softmax(model(torch.from_numpy(imgs[..., None])), dim=1)
            y[first:first + len(rows)] = probs[:, CLS].numpy()
    d = 1.0 - (z.sum(axis=1) / np.sqrt(m * np.maximum(z.sum(axis=1), 1)))  # cosine distance to all-ones
    w = np.sqrt(np.exp(-d * d / 0.25 ** 2))
    X = np.hstack([z.astype(np.float64), np.ones((samples, 1))])
    A = X.T @ (X * w[:, None]) + np.diag([1.0] * m + [0.0])
    coef = np.linalg.solve(A, X.T @ (w * y))
    return coef[:m]


def filter_ascent(model, face, steps=100, lr=0.05):
    x = torch.full_like(face, 0.5).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (-model(x)[:, CLS].sum()).backward()
        opt.step()
    return x.detach()


def forward(model, face):
    with torch.no_grad():
        return model(face)


METHODS = {
    'forward': forward,
    'saliency': saliency,
    'smoothgrad': smoothgrad,
    'ig': ig,
    'lime': lambda m, f: lime(m, f, batch=100),
    'lime_b10': lambda m, f: lime(m, f, batch=10),
    'filter': filter_ascent,
}


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--quick-runs', type=int, default=30, help='runs of forward and saliency')
    ap.add_argument('--methods', default=','.join(METHODS))
    args = ap.parse_args()
    if not os.path.exists(FACE):
        sys.exit('run from the repository root')
    torch.set_num_threads(args.threads)
    face = torch.from_numpy(load_face())[None, :, :, None].contiguous()
    models = {'eager': make_model(False), 'frozen': make_model(True)}
    with torch.no_grad():
        diff = float((models['eager'](face) - models['frozen'](face)).abs().max())
    assert diff < 1e-4, f'frozen model differs from eager by {diff}'
    for name in args.methods.split(','):
        fn = METHODS[name]
        for variant, model in models.items():
            slow = name in ('lime_b10', 'filter') or variant == 'eager' and name == 'lime'
            quick = name in ('forward', 'saliency')  # milliseconds: more runs after more warm-up
            runs = args.quick_runs if quick else max(1, args.runs // 2) if slow else args.runs
            ms = timed(lambda: fn(model, face), runs, 10 if quick else 1)
            print(json.dumps({'method': name, 'threads': args.threads, 'variant': variant,
                              'ms': float(np.median(ms)), 'ms_min': min(ms), 'ms_max': max(ms), 'runs': runs}),
                  flush=True)


if __name__ == '__main__':
    main()
