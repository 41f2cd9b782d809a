"""Independent numpy implementations of KernelSHAP, shap's Partition explainer (Owen values over an axis-split
tree, blur masker) and XRAI's region selection, written from the papers and shap's / PAIR's documented algorithms,
on the float64 PyTorch port of the bundled model (torch_explain.GraphPort) and on the ONNX fixture resnet48 (its
PyTorch module rebuilt from make_onnx_fixtures.py's seed, checked against the fixture's outputs).
Writes tests/data/shap/ (*.f32 and *.i32 little-endian, fixtures.json); tests/explain/shap_oracle_test.cpp compares.
Run from the repository root with Debian's python3 (torch, numpy, skimage): /usr/bin/python3 tests/oracle/shap_oracle.py
[--only kernel_shap|partition_shap|xrai]: rewrite one method's fixtures, keep the others."""
import heapq
import json
import os
import sys
from itertools import combinations
from math import comb

import numpy as np
import torch
from skimage.segmentation import slic

sys.path.insert(0, os.path.dirname(__file__))
import make_onnx_fixtures as onnx_fx  # noqa: E402
import torch_explain as te  # noqa: E402

OUT = 'tests/data/shap'
HAPPY = 3


# --- Models: f(batch NHWC float64) -> target score per row -------------------------------------------

def bundled_score(port, cls):
    def f(x):
        with torch.no_grad():
            return port.forward(torch.from_numpy(x))['Identity'][:, cls].numpy()  # probability
    return f


def resnet48():
    """make_onnx_fixtures' Resnet48 (MODELS index 1: torch.manual_seed(1001)) in float64; its first input image."""
    k = [m[0] for m in onnx_fx.MODELS].index('resnet48')
    torch.manual_seed(1000 + k)
    model = onnx_fx.Resnet48().eval().double()
    u8 = np.fromfile('tests/data/onnx/resnet48.inputs.u8', np.uint8).reshape(2, 48, 48, 1)
    x = (u8.astype(np.float32) / np.float32(255)).astype(np.float64)
    want = np.fromfile('tests/data/onnx/resnet48.outputs.f32', '<f4').reshape(2, 7)
    with torch.no_grad():
        got = model(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    assert np.abs(got - want).max() < 1e-4, f'rebuilt resnet48 differs from its fixture by {np.abs(got - want).max()}'

    def f(batch, cls=HAPPY):
        with torch.no_grad():
            return model(torch.from_numpy(batch.transpose(0, 3, 1, 2))).numpy()[:, cls]  # logit
    return f, x[:1]


def segments_of(img, n_segments):
    """skimage SLIC labels relabelled 0..M-1 in row-major order of first appearance."""
    lab = slic(img[0, :, :, 0], n_segments=n_segments, compactness=0.1, sigma=1, channel_axis=None, start_label=0)
    _, first, inv = np.unique(lab.ravel(), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inv].reshape(lab.shape).astype(np.int32)


# --- KernelSHAP ------------------------------------------------------------------------------------------

def kernel_shap_coalitions(M, budget, seed):
    """shap.KernelExplainer's sampler: sizes s and M - s share the Shapley kernel mass (M-1)/(s(M-s)); a size
    whose expected count covers its subsets is enumerated, the rest drawn (size by inverse CDF of uniform(), subset by
    a partial Fisher-Yates of below(), from core/base/rng.h's PCG32 stream), each with its complement, repeats adding
    weight. Returns (Z [rows, M] 0/1, weights, number of enumerated rows, kernel mass of the drawn rows)."""
    sizes, paired = M // 2, (M - 1) // 2
    kernel = np.array([(M - 1) / (s * (M - s)) * (2 if s <= paired else 1) for s in range(1, sizes + 1)])
    kernel /= kernel.sum()
    Z, W = [], []
    left, remaining, full = float(budget), kernel.copy(), 0
    for s in range(1, sizes + 1):
        n = comb(M, s) * (2 if s <= paired else 1)
        if left * remaining[s - 1] / n < 1 - 1e-8:
            break
        full += 1
        left -= n
        if remaining[s - 1] < 1:
            remaining /= 1 - remaining[s - 1]
        w = kernel[s - 1] / comb(M, s) / (2 if s <= paired else 1)
        for idx in combinations(range(M), s):
            z = np.zeros(M, np.uint8)
            z[list(idx)] = 1
            Z.append(z), W.append(w)
            if s <= paired:
                Z.append(1 - z), W.append(w)
    fixed = len(Z)
    if full == sizes:
        return np.array(Z).reshape(-1, M), np.array(W), fixed, 0.0
    rest = kernel[full:].copy()
    for i in range(len(rest)):
        if i + full < paired:
            rest[i] /= 2
    rest_sum = 0.0
    for r in rest:
        rest_sum += r
    weight_left = float(sum(kernel[full:]))
    samples_left = int(round(left))
    rng = te.Pcg32(seed)
    used = {}
    for _ in range(4 * samples_left):
        if samples_left <= 0:
            break
        u = rng.uniform() * rest_sum
        k, acc = 0, rest[0]
        while k + 1 < len(rest) and u >= acc:
            k += 1
            acc += rest[k]
        s = k + full + 1
        perm = list(range(M))
        z = np.zeros(M, np.uint8)
        for i in range(s):
            j = i + rng.below(M - i)
            perm[i], perm[j] = perm[j], perm[i]
            z[perm[i]] = 1
        key = z.tobytes()
        fresh = key not in used
        if fresh:
            used[key] = len(Z)
            samples_left -= 1
            Z.append(z), W.append(1.0)
        else:
            W[used[key]] += 1.0
        if samples_left > 0 and s <= paired:
            if fresh:
                samples_left -= 1
                Z.append(1 - z), W.append(1.0)
            else:
                W[used[key] + 1] += 1.0
    W = np.array(W)
    W[fixed:] *= weight_left / W[fixed:].sum()
    return np.array(Z), W, fixed, weight_left


def kernel_shap(f, x, seg, budget, seed, batch=128):
    """Values phi minimising sum_r w_r (f(z_r) - f0 - z_r . phi)^2 subject to sum(phi) = f(x) - f0 (Lundberg & Lee
    2017, eq. 8-9 with the efficiency constraint), solved through its KKT system. Hidden segments take the image's
    mean (a constant baseline); f0 is f on the baseline."""
    M = int(seg.max()) + 1
    base = np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape)
    budget = budget or 2 * M + 2048
    if M <= 30:
        budget = min(budget, 2 ** M - 2)
    Z, W, fixed, _ = kernel_shap_coalitions(M, budget, seed)
    fx, f0 = f(np.concatenate([x, base]))
    y = []
    for i in range(0, len(Z), batch):
        on = Z[i:i + batch][:, seg]  # [n, H, W]
        imgs = np.where(on[..., None] == 1, x, base)
        y.append(f(imgs))
    y = np.concatenate(y)
    A = np.zeros((M + 1, M + 1))
    A[:M, :M] = 2 * (Z.T * W) @ Z
    A[:M, M] = A[M, :M] = 1
    rhs = np.concatenate([2 * (Z.T * W) @ (y - f0), [fx - f0]])
    phi = np.linalg.solve(A, rhs)[:M]
    return phi, float(fx), float(f0), len(Z)


def exact_shapley(f, x, seg):
    """Shapley values by enumerating every coalition (small M only), for the record."""
    M = int(seg.max()) + 1
    base = np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape)
    Z = np.array([[(k >> j) & 1 for j in range(M)] for k in range(2 ** M)], np.uint8)
    v = f(np.where(Z[:, seg][..., None] == 1, x, base))
    phi = np.zeros(M)
    for k in range(2 ** M):
        s = bin(k).count('1')
        for j in range(M):
            if not (k >> j) & 1:
                phi[j] += (v[k | (1 << j)] - v[k]) * (np.math.factorial(s) * np.math.factorial(M - s - 1) / np.math.factorial(M))
    return phi


# --- Partition explainer ----------------------------------------------------------------------------------

def box_blur(x, k):
    """OpenCV's blur(k, k): the mean over [i - k//2, i - k//2 + k) per axis, reflect-101 border. x [1,H,W,C]."""
    def axis_mean(a, axis, k):
        n = a.shape[axis]
        period = max(2 * n - 2, 1)
        out = np.zeros_like(a)
        for d in range(k):
            idx = (np.arange(n) - k // 2 + d) % period
            idx = np.where(idx < n, idx, period - idx) if n > 1 else np.zeros(n, int)
            out += np.take(a, idx, axis=axis)
        return out / k
    return axis_mean(axis_mean(x, 2, k[1]), 1, k[0])


def partition_owen(f, x, max_evals, blur, batch):
    """Owen values over shap.maskers.Image's axis-split tree (scheme 0: the longer spatial side halves, rows on a tie,
    channels last), hidden features blurred. Nodes are boxes (r0, r1, c0, c1, z0, z1); a work item (context boxes, f of
    the context, f of context + node, node, weight) expands into both children, each with the sibling absent and present
    at half the weight; largest |delta| * weight first, ties first in first out; leaves and what the budget leaves in the
    queue keep (delta * weight) on their node, spread evenly over its features at the end."""
    _, H, W, C = x.shape
    k = (max(1, int(round(blur * H))), max(1, int(round(blur * W))))
    hidden = box_blur(x, k)

    def children(b):
        r0, r1, c0, c1, z0, z1 = b
        if r1 - r0 >= c1 - c0 and r1 - r0 > 1:
            m = r0 + (r1 - r0) // 2
            return (r0, m, c0, c1, z0, z1), (m, r1, c0, c1, z0, z1)
        if c1 - c0 > 1:
            m = c0 + (c1 - c0) // 2
            return (r0, r1, c0, m, z0, z1), (r0, r1, m, c1, z0, z1)
        m = z0 + (z1 - z0) // 2
        return (r0, r1, c0, c1, z0, m), (r0, r1, c0, c1, m, z1)

    def size(b):
        return (b[1] - b[0]) * (b[3] - b[2]) * (b[5] - b[4])

    def image(boxes):
        img = hidden.copy()
        for r0, r1, c0, c1, z0, z1 in boxes:
            img[0, r0:r1, c0:c1, z0:z1] = x[0, r0:r1, c0:c1, z0:z1]
        return img

    f11, f00 = f(np.concatenate([x, hidden]))
    root = (0, H, 0, W, 0, C)
    credit = {}
    heap, seq, evals, budget = [(0.0, 0, (), f00, f11, 1.0, root)], 1, 0, max_evals - 2
    while heap:
        if evals >= budget:
            for _, _, _, a, b, w, node in heap:
                credit[node] = credit.get(node, 0.0) + (b - a) * w
            break
        work = []
        while heap and 2 * len(work) < batch and evals + 2 * len(work) < budget:
            item = heapq.heappop(heap)
            _, _, ctx, a, b, w, node = item
            if size(node) == 1:
                credit[node] = credit.get(node, 0.0) + (b - a) * w
                continue
            work.append(item)
        if not work:
            continue
        imgs = []
        for _, _, ctx, _, _, _, node in work:
            left, right = children(node)
            imgs += [image(ctx + (left,)), image(ctx + (right,))]
        out = f(np.concatenate(imgs))
        evals += len(imgs)
        for i, (_, _, ctx, a, b, w, node) in enumerate(work):
            left, right = children(node)
            f10, f01, w2 = out[2 * i], out[2 * i + 1], w / 2
            for pri, c, lo, hi, n in ((abs(f10 - a), ctx, a, f10, left), (abs(f01 - a), ctx, a, f01, right),
                                      (abs(b - f01), ctx + (right,), f01, b, left), (abs(b - f10), ctx + (left,), f10, b, right)):
                heapq.heappush(heap, (-pri * w2, seq, c, lo, hi, w2, n))
                seq += 1
    values = np.zeros(x.shape[1:])
    for (r0, r1, c0, c1, z0, z1), v in credit.items():
        values[r0:r1, c0:c1, z0:z1] += v / size((r0, r1, c0, c1, z0, z1))
    return values, float(f11), float(f00), evals + 2


# --- XRAI -------------------------------------------------------------------------------------------------

XRAI_SCALES = [50, 100, 150, 250, 500, 1200]


def relabel(lab):
    _, first, inv = np.unique(lab.ravel(), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inv].reshape(lab.shape).astype(np.int32)


def pair_segments(x):
    """PAIR's _get_segments_felzenszwalb before dilation: the image min-max scaled to [-1, 1], resized to 224 x 224
    (skimage cubic spline), Felzenszwalb at six scales (sigma 0.8, min_size 150), labels resized back (order 0)."""
    from skimage.segmentation import felzenszwalb
    from skimage.transform import resize
    im = x[0]
    im = (im - im.min()) / (im.max() - im.min()) * 2 - 1
    im = resize(im, (224, 224), order=3, mode='constant', preserve_range=True, anti_aliasing=True)
    out = []
    for scale in XRAI_SCALES:
        seg = felzenszwalb(im, scale=scale, sigma=0.8, min_size=150)
        seg = resize(seg, x.shape[1:3], order=0, preserve_range=True, mode='constant', anti_aliasing=False).astype(int)
        out.append(relabel(seg))
    return out


def ig_constant(port, x, value, cls, steps):
    """IG from the constant image `value`, midpoint rule alpha_k = (k + 0.5) / steps, logit of cls."""
    xt = torch.from_numpy(x)
    base = torch.full_like(xt, value)
    alphas = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps
    g, _ = te.input_grad(port, base + alphas.view(-1, 1, 1, 1) * (xt - base), cls)
    return ((xt - base)[0] * g.mean(dim=0)).numpy()


def xrai_regions(attr, segs, dilation=5, min_pixel_diff=50, area_threshold=1.0):
    """Kapishnikov et al. 2019's greedy region selection as PAIR's _xrai ('full'): every segment dilated by a disk,
    repeatedly the one whose not yet covered pixels have the highest mean attribution, masks adding fewer than
    min_pixel_diff pixels dropped; each pixel takes its region's gain, the uncovered rest its own mean."""
    from skimage.morphology import dilation as dilate, disk
    masks = [dilate(seg == l, disk(dilation)) for seg in segs for l in range(seg.max() + 1)]
    out = np.full(attr.shape, -np.inf)
    covered = np.zeros(attr.shape, bool)
    alive = list(range(len(masks)))
    trace = []
    while covered.mean() <= area_threshold:
        best, best_k, keep = -np.inf, None, []
        for k in alive:
            add = masks[k] & ~covered
            if add.sum() < min(min_pixel_diff, attr.size):
                continue
            keep.append(k)
            g = attr[add].mean()
            if g > best:
                best, best_k = g, k
        alive = keep
        if best_k is None:
            break
        add = masks[best_k] & ~covered
        out[add] = best
        trace.append((best, add))
        covered |= masks[best_k]
        alive.remove(best_k)
    rest = out == -np.inf
    if rest.any():
        out[rest] = attr[rest].mean()
    ranks = np.zeros(attr.shape, np.int32)
    for i, (_, add) in enumerate(sorted(trace, key=lambda t: -t[0])):
        ranks[add] = i + 1
    if rest.any():
        ranks[rest] = len(trace) + 1
    return out, ranks, len(trace)


def main():
    if not os.path.exists('models/fer2013-mini-xception/emotion.json'):
        sys.exit('run from the repository root')
    os.makedirs(OUT, exist_ok=True)
    port = te.GraphPort(te.MODEL_DIR)
    meta = json.load(open(te.INPUTS_META))
    X = te.read_f32(te.INPUTS, (meta['count'], 64, 64, 1)).astype(np.float64)
    files, lines = [], []
    # --only METHOD rewrites that method's fixtures and keeps the others.
    only = sys.argv[sys.argv.index('--only') + 1] if '--only' in sys.argv else None
    if only:
        files = [e for e in json.load(open(os.path.join(OUT, 'fixtures.json')))['files'] if e['method'] != only]

    def want(method):
        return only in (None, method)

    def write(name, arr, dtype, **desc):
        a = np.ascontiguousarray(arr, dtype=dtype)
        a.tofile(os.path.join(OUT, name))
        files.append({'name': name, **desc, 'shape': list(a.shape)})

    # KernelSHAP: the bundled model on two faces (probability of happy), resnet48 (logit of class 3).
    f_res, x_res = resnet48()
    ks_cases = [] if not want('kernel_shap') else [('case0', X[0:1], bundled_score(port, HAPPY), 'probability', 40, 0),
                ('case1', X[1:2], bundled_score(port, HAPPY), 'probability', 40, 600),
                ('resnet48', x_res, f_res, 'logit', 30, 0)]
    for tag, x, f, score, nseg, budget in ks_cases:
        seg = segments_of(x, nseg)
        phi, fx, f0, rows = kernel_shap(f, x, seg, budget, seed=1)
        write(f'{tag}_kernel_shap_segments.i32', seg, '<i4', method='kernel_shap', role='segments', case=tag)
        write(f'{tag}_kernel_shap_values.f32', phi, '<f4', method='kernel_shap', role='values', case=tag,
              model='onnx/resnet48.opset17' if tag == 'resnet48' else 'bundled', input_index=int(tag[-1]) if tag.startswith('case') else 0,
              score=score, **{'class': HAPPY}, baseline='image mean', samples=budget, seed=1, coalitions=rows, score_x=fx, score_base=f0)
        lines.append(f'kernel_shap {tag}: M {int(seg.max()) + 1}, {rows} coalitions, sum {phi.sum():.6f} vs f(x) - f0 {fx - f0:.6f}')

    # Partition explainer: the bundled model on two faces, shap's defaults (500 evaluations, blur 128/224, batch 10).
    for case in ((0, 1) if want('partition_shap') else ()):
        vals, fx, f0, evals = partition_owen(bundled_score(port, HAPPY), X[case:case + 1], 500, 128 / 224, 10)
        write(f'case{case}_partition_shap_values.f32', vals, '<f4', method='partition_shap', role='values', case=f'case{case}',
              model='bundled', input_index=case, score='probability', **{'class': HAPPY}, max_evals=500, blur=128 / 224,
              batch=10, score_x=fx, score_base=f0, evaluations=evals)
        lines.append(f'partition_shap case{case}: {evals} evaluations, sum {vals.sum():.6f} vs f(x) - f0 {fx - f0:.6f}')

    # XRAI: IG from black and white on the bundled model (logit of happy), PAIR's segments passed to both sides.
    for case in ((0, 1) if want('xrai') else ()):
        x = X[case:case + 1]
        steps = 20
        attr3 = 0.5 * (ig_constant(port, x, 0.0, HAPPY, steps) + ig_constant(port, x, 1.0, HAPPY, steps))
        attr = attr3.max(axis=-1)
        segs = pair_segments(x)
        gains, ranks, regions = xrai_regions(attr, segs)
        write(f'case{case}_xrai_segments.i32', np.stack(segs), '<i4', method='xrai', role='segments', case=f'case{case}')
        write(f'case{case}_xrai_attribution.f32', attr3, '<f4', method='xrai', role='attribution', case=f'case{case}')
        write(f'case{case}_xrai_ranks.i32', ranks, '<i4', method='xrai', role='ranks', case=f'case{case}')
        write(f'case{case}_xrai_map.f32', gains, '<f4', method='xrai', role='map', case=f'case{case}', model='bundled',
              input_index=case, score='logit', **{'class': HAPPY}, steps=steps, dilation=5, min_pixel_diff=50,
              area_threshold=1.0, regions=regions, scales=XRAI_SCALES)
        lines.append(f'xrai case{case}: {sum(int(s.max()) + 1 for s in segs)} candidates, {regions} regions')

    # Felzenszwalb: skimage's labels on the astronaut face scaled to [-1, 1], for core/image's test.
    if want('felzenszwalb'):
        from skimage.segmentation import felzenszwalb
        for scale, min_size in ((20, 10), (100, 20), (300, 50)):
            lab = felzenszwalb(X[0, :, :, 0] * 2 - 1, scale=scale, sigma=0.8, min_size=min_size)
            write(f'felzenszwalb_s{scale}_m{min_size}.i32', relabel(lab), '<i4', method='felzenszwalb', role='labels',
                  input_index=0, input_transform='x * 2 - 1', scale=scale, sigma=0.8, min_size=min_size)
            lines.append(f'felzenszwalb scale {scale} min_size {min_size}: {lab.max() + 1} segments')

    # Self-check: with every coalition enumerated, the regression gives the exact Shapley values.
    if want('kernel_shap'):
        seg6 = (np.arange(64)[:, None] * 2 // 64 * 3 + np.arange(64)[None, :] * 3 // 64).astype(np.int32)
        phi6, *_ = kernel_shap(bundled_score(port, HAPPY), X[0:1], seg6, 0, seed=1)
        ex6 = exact_shapley(bundled_score(port, HAPPY), X[0:1], seg6)
        assert np.abs(phi6 - ex6).max() < 1e-9 * max(1.0, np.abs(ex6).max()), (phi6, ex6)
        lines.append(f'kernel_shap exact check: M {int(seg6.max()) + 1}, max |regression - enumeration| {np.abs(phi6 - ex6).max():.2e}')

    json.dump({'generated_by': 'tests/oracle/shap_oracle.py (float64 PyTorch %s, numpy %s)' % (torch.__version__, np.__version__),
               'inputs': te.INPUTS, 'files': files}, open(os.path.join(OUT, 'fixtures.json'), 'w'), indent=1)
    print('\n'.join(lines))
    print(f'{len(files)} files -> {OUT}/')


if __name__ == '__main__':
    main()
