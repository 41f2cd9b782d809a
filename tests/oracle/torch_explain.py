"""Independent float64 PyTorch port of the emotion TF.js graph (built by walking emotion.json), checked against
the TF.js oracle, then used to write reference explanations (saliency, guided backprop, IG, Grad-CAM, RISE, Blur IG, Guided IG,
LRP, DeepLIFT, DeepSHAP, GradientSHAP) to tests/data/torch/.
Run from the repo root with Debian's python3 (torch, numpy): /usr/bin/python3 tests/oracle/torch_explain.py
(--only-lrp rewrites the LRP fixtures, --only-reference those of DeepLIFT, DeepSHAP and GradientSHAP; both keep the other
entries of fixtures.json)."""
import base64
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

MODEL_DIR = 'models/fer2013-mini-xception'
INPUTS = 'tests/data/oracle/inputs.f32'
INPUTS_META = 'tests/data/oracle/inputs.json'
ORACLE_DIR = 'build/oracle'  # written by tests/oracle/tfjs_oracle.mjs --out build/oracle
OUT_DIR = 'tests/data/torch'
LOGITS = 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean'
PREFIX = 'StatefulPartitionedCall/model_1/'
CAM_LAYERS = [PREFIX + 'block3_sepconv2_bn/FusedBatchNormV3', PREFIX + 'conv2d_5/BiasAdd']
CASES = [0, 1, 2]
HAPPY, SAD, ANGRY = 3, 4, 0
IG_STEPS = 50
RISE = dict(samples=100, cells=7, p=0.5, seed=1)
BLUR_IG = dict(max_sigma=50.0, steps=100)
GUIDED_IG = dict(steps=50, fraction=0.25, max_dist=0.02)  # PAIR takes 200 steps; 50 keep the oracle quick
DT = torch.float64

torch.set_grad_enabled(True)


# --- The graph ----------------------------------------------------------------------------------

def b64(attr):
    return base64.b64decode(attr['s']).decode()


def load_weights(model_json, model_dir):
    """Manifest entries concatenated in order in the weight files -> {name: numpy array}."""
    out = {}
    for group in model_json['weightsManifest']:
        blob = b''.join(open(os.path.join(model_dir, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            dt = {'float32': '<f4', 'int32': '<i4'}[w['dtype']]
            n = int(np.prod(w['shape'])) if w['shape'] else 1
            out[w['name']] = np.frombuffer(blob, dt, n, off).reshape(w['shape'])
            off += 4 * n
        assert off == len(blob), f'{len(blob) - off} weight bytes left over'
    return out


def same_pads(size, k, s):
    """TF SAME: (before, after), the odd pixel going after (bottom/right)."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class GuidedRelu(torch.autograd.Function):
    """ReLU whose backward is g * [x > 0] * [g > 0] (Springenberg et al.)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0).to(g.dtype) * (g > 0).to(g.dtype)


class RescaleRelu(torch.autograd.Function):
    """DeepLIFT's rescale rule (Shrikumar et al. 2017, eq. 3 with the chain rule for multipliers) on a batch
    whose second half holds the references of the first: the multiplier of x is g * (relu(x) - relu(x0)) /
    (x - x0), the derivative [x > 0] where |x - x0| < 1e-6; the references' half gets none."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        n = x.shape[0] // 2
        xa, xr = x[:n], x[n:]
        dx = xa - xr
        dy = xa.clamp(min=0) - xr.clamp(min=0)
        safe = torch.where(dx.abs() < 1e-6, torch.ones_like(dx), dx)
        m = torch.where(dx.abs() < 1e-6, (xa > 0).to(g.dtype), dy / safe)
        return torch.cat([g[:n] * m, torch.zeros_like(g[n:])])


class RescaleMaxPool(torch.autograd.Function):
    """Max pooling under DeepLIFT on a paired batch, as Captum splits it: with y, y0 the pooled input and
    reference and t = max(y, y0), g * (t - y0) goes to the input's window winner and g * (y - t) to the
    reference's (torch's own max-pool backward does the routing); each input position's multiplier is what
    it received over x - x0 (the plain gradient where |x - x0| < 1e-6)."""

    @staticmethod
    def forward(ctx, x, pool):
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            y = pool(xr)
        ctx.xr, ctx.y = xr, y
        return y.detach()

    @staticmethod
    def backward(ctx, g):
        xr, y = ctx.xr, ctx.y
        n = xr.shape[0] // 2
        ya, y0 = y[:n].detach(), y[n:].detach()
        t = torch.maximum(ya, y0)
        share = torch.cat([g[:n] * (t - y0), g[:n] * (ya - t)])
        (routed,) = torch.autograd.grad(y, xr, share, retain_graph=True)
        (plain,) = torch.autograd.grad(y, xr, torch.cat([g[:n], torch.zeros_like(g[n:])]))
        dx = xr[:n].detach() - xr[n:].detach()
        small = dx.abs() < 1e-6
        m = torch.where(small, plain[:n], (routed[:n] + routed[n:]) / torch.where(small, torch.ones_like(dx), dx))
        return torch.cat([m, torch.zeros_like(m)]), None


class GraphPort:
    """Walks the TF.js graph in topological order; tensors are kept NCHW, float64."""

    def __init__(self, model_dir):
        self.json = json.load(open(os.path.join(model_dir, 'emotion.json')))
        raw = load_weights(self.json, model_dir)
        self.consts = {k: torch.from_numpy(v.astype(np.float64 if v.dtype.kind == 'f' else np.int64)) for k, v in raw.items()}
        self.nodes = {n['name']: n for n in self.json['modelTopology']['node']}
        self.order = self._topo_order()

    @staticmethod
    def _inputs(node):
        return [i.split(':')[0] for i in node.get('input', []) if not i.startswith('^')]

    def _topo_order(self):
        order, state = [], {}

        def visit(name):
            if state.get(name) == 2:
                return
            assert state.get(name) != 1, f'cycle at {name}'
            state[name] = 1
            for i in self._inputs(self.nodes[name]):
                visit(i)
            state[name] = 2
            order.append(name)

        for name in self.nodes:
            visit(name)
        return order

    def _conv(self, node, x, w, depthwise):
        a = node['attr']
        strides = [int(s) for s in a['strides']['list']['i']]
        dil = [int(d) for d in a.get('dilations', {'list': {'i': ['1'] * 4}})['list']['i']]
        assert b64(a.get('data_format', {'s': base64.b64encode(b'NHWC').decode()})) == 'NHWC'
        assert dil == [1, 1, 1, 1], 'dilated convolutions are not ported'
        kh, kw, cin, m = w.shape
        pad = b64(a['padding'])
        if pad == 'SAME':
            (pt, pb), (pl, pr) = same_pads(x.shape[2], kh, strides[1]), same_pads(x.shape[3], kw, strides[2])
            x = F.pad(x, (pl, pr, pt, pb))
        else:
            assert pad == 'VALID', pad
        if depthwise:  # TF [kh, kw, C, m] -> torch [C*m, 1, kh, kw]; output channel c*m + j reads input c
            wt = w.permute(2, 3, 0, 1).reshape(cin * m, 1, kh, kw)
            return F.conv2d(x, wt, stride=strides[1:3], groups=cin)
        return F.conv2d(x, w.permute(3, 2, 0, 1), stride=strides[1:3])  # HWIO -> OIHW

    @staticmethod
    def _maxpool(node, x):
        a = node['attr']
        k = [int(s) for s in a['ksize']['list']['i']]
        s = [int(t) for t in a['strides']['list']['i']]
        if b64(a['padding']) == 'SAME':  # padded cells never win
            (pt, pb), (pl, pr) = same_pads(x.shape[2], k[1], s[1]), same_pads(x.shape[3], k[2], s[2])
            x = F.pad(x, (pl, pr, pt, pb), value=float('-inf'))
        return F.max_pool2d(x, k[1:3], s[1:3])

    def forward(self, x_nhwc, guided=False, replace=None, deeplift=False):
        """x_nhwc: [N, 64, 64, 1] float64. Returns {node name: tensor} (spatial ones NCHW).
        replace {node name: tensor}: that node outputs the tensor instead (Ablation-CAM).
        deeplift: rows [N/2, N) are the references of rows [0, N/2); ReLU and max pooling backpropagate
        DeepLIFT's multipliers (the graph's other ops are linear: their gradient is their multiplier)."""
        relu = GuidedRelu.apply if guided else RescaleRelu.apply if deeplift else torch.relu
        v = {}
        for name in self.order:
            node = self.nodes[name]
            op = node['op']
            ins = [v[i] if i in v else self.consts.get(i) for i in self._inputs(node)]
            if op == 'Const':
                continue
            if replace and name in replace:
                v[name] = replace[name]
                continue
            if op == 'Placeholder':
                v[name] = x_nhwc.permute(0, 3, 1, 2)
            elif op == '_FusedConv2D':
                fused = [base64.b64decode(s).decode() for s in node['attr']['fused_ops']['list']['s']]
                assert fused in (['BiasAdd'], ['BiasAdd', 'Relu']), fused
                y = self._conv(node, ins[0], ins[1], False) + ins[2].view(1, -1, 1, 1)
                v[name] = relu(y) if 'Relu' in fused else y
            elif op == 'DepthwiseConv2dNative':
                v[name] = self._conv(node, ins[0], ins[1], True)
            elif op == 'MaxPool':
                if deeplift:
                    v[name] = RescaleMaxPool.apply(ins[0], lambda t, node=node: self._maxpool(node, t))
                else:
                    v[name] = self._maxpool(node, ins[0])
            elif op == 'AddV2':
                v[name] = ins[0] + ins[1]
            elif op == 'Relu':
                v[name] = relu(ins[0])
            elif op == 'Mean':
                axes = sorted(int(t) for t in ins[1].flatten())
                assert axes == [1, 2] and not node['attr'].get('keep_dims', {}).get('b', False), axes
                v[name] = ins[0].mean(dim=(2, 3))  # NHWC axes 1,2 = NCHW axes 2,3
            elif op == 'Softmax':
                v[name] = torch.softmax(ins[0], dim=-1)
            elif op == 'Identity':
                v[name] = ins[0]
            else:
                raise NotImplementedError(op)
        return v


# --- Methods ------------------------------------------------------------------------------------

def score(logits, cls, contrast):
    s = logits[:, cls]
    return s - logits[:, contrast] if contrast is not None else s


def input_grad(port, x, cls, contrast=None, guided=False):
    """d score / d x for each image of the batch x [N,64,64,1] (images are independent)."""
    x = x.clone().requires_grad_(True)
    out = port.forward(x, guided)
    (g,) = torch.autograd.grad(score(out[LOGITS], cls, contrast).sum(), x)
    return g, out


def integrated_gradients(port, x, cls, steps):
    """Black baseline, midpoint rule alpha_k = (k + 0.5) / steps. x: [1,64,64,1]."""
    alphas = (torch.arange(steps, dtype=DT) + 0.5) / steps
    g, _ = input_grad(port, alphas.view(-1, 1, 1, 1) * x, cls)
    attr = x[0] * g.mean(dim=0)
    with torch.no_grad():
        l = port.forward(torch.cat([x, torch.zeros_like(x)]))[LOGITS][:, cls]
    return attr, float(attr.sum()), float(l[0] - l[1])


def grad_cam(port, x, cls, layer):
    """cam [h,w] = relu(sum_k mean_ij(dS/dA_k) A_k) and its bilinear (align_corners=False) upsampling."""
    out = port.forward(x.clone().requires_grad_(True))  # the weights are constants: give autograd a leaf
    A = out[layer]
    (G,) = torch.autograd.grad(out[LOGITS][:, cls].sum(), A)
    w = G.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((w * A).sum(dim=1, keepdim=True)).detach()  # [1,1,h,w]
    up = F.interpolate(cam, size=tuple(x.shape[1:3]), mode='bilinear', align_corners=False)
    return cam[0, 0], up[0, 0]


# --- GradientSHAP, DeepLIFT, DeepSHAP (issue 18) -------------------------------------------------

class Draws:
    """core/base/rng.h's stream with its float32 uniform() and Box-Muller normal() (cos first, sin cached)."""

    def __init__(self, seed, stream):
        self.pcg = Pcg32(seed, stream)
        self.spare = None

    def uniform(self):
        return np.float32(self.pcg.uniform())

    def below(self, n):
        return self.pcg.below(n)

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u1 = np.float32(0)
        while u1 <= np.float32(1e-12):
            u1 = self.uniform()
        u2 = self.uniform()
        r = np.sqrt(np.float32(-2) * np.log(u1))
        a = np.float32(6.28318530718) * u2
        self.spare = r * np.sin(a, dtype=np.float32)
        return r * np.cos(a, dtype=np.float32)

    def normals(self, n):
        return np.array([self.normal() for _ in range(n)], dtype=np.float32)


def noisy_black(rng, shape, sigma):
    """The 'noise_around_black' baseline: black (0 for this [0, 1] model) + sigma * normal() per value."""
    return torch.from_numpy((np.float32(sigma) * rng.normals(int(np.prod(shape)))).astype(np.float64)).view(shape)


def gradient_shap(port, x, cls, samples, noise, baseline_noise, seed):
    """Captum's GradientShap (Lundberg & Lee 2017): mean over draws of grad f(x0 + a (x' - x0)) * (x' - x0),
    x' = x + N(0, noise^2). Draw k from stream k of the seed: baseline (noise around black), then
    a = uniform(), then the input's noise, as gradient_shap.cpp draws them."""
    pts, diffs = [], []
    for k in range(samples):
        rng = Draws(seed, k)
        x0 = noisy_black(rng, x.shape, baseline_noise)
        a = float(rng.uniform())
        xn = x + torch.from_numpy((np.float32(noise) * rng.normals(x.numel())).astype(np.float64)).view(x.shape)
        pts.append(x0 + a * (xn - x0))
        diffs.append(xn - x0)
    g, _ = input_grad(port, torch.cat(pts), cls)
    return (g * torch.cat(diffs)).mean(dim=0)


def deeplift(port, x, x0, cls, contrast=None):
    """DeepLIFT, rescale rule: (x - x0) times the multipliers of a backward pass through the paired batch
    [x; x0]. Returns the attributions [N,64,64,1], and score(x) - score(x0) per image."""
    n = x.shape[0]
    both = torch.cat([x, x0]).clone().requires_grad_(True)
    lg = port.forward(both, deeplift=True)[LOGITS]
    s = score(lg, cls, contrast)
    (m,) = torch.autograd.grad(s[:n].sum(), both)
    return (x - x0) * m[:n], (s[:n] - s[n:]).detach()


def deepshap(port, x, cls, samples, baseline_noise, seed):
    """DeepLIFT averaged over `samples` baselines drawn around black (stream k of the seed for draw k)."""
    refs = torch.cat([noisy_black(Draws(seed, k), x.shape, baseline_noise) for k in range(samples)])
    attr, delta = deeplift(port, x.expand(samples, -1, -1, -1), refs, cls)
    return attr.mean(dim=0), float(delta.mean())


GSHAP = dict(samples=8, noise=0.05, baseline_noise=0.1, seed=1)
DSHAP = dict(samples=4, baseline_noise=0.1, seed=1)


def reference_fixtures(port, X, meta, write):
    lines = []
    for case in CASES:
        x = X[case:case + 1]
        base = dict(case=case, case_name=meta['cases'][case]['name'], **{'class': HAPPY})
        for contrast in (None, SAD):
            attr, delta = deeplift(port, x, torch.zeros_like(x), HAPPY, contrast)
            tag = 'c3' + (f'm{contrast}' if contrast is not None else '')
            total = float(attr.sum())
            write(f'case{case}_deeplift_{tag}.f32', attr[0], method='deeplift', baseline='black', contrast=contrast,
                  sum_attributions=total, score_delta=float(delta[0]), **base)
            lines.append(f'case {case} deeplift {tag}: sum {total:.6f} vs delta {float(delta[0]):.6f}')
        attr, delta = deepshap(port, x, HAPPY, **DSHAP)
        write(f'case{case}_deepshap_c3.f32', attr, method='deepshap', baselines='noise_around_black', contrast=None,
              sum_attributions=float(attr.sum()), score_delta=delta, **DSHAP, **base)
        lines.append(f'case {case} deepshap: sum {float(attr.sum()):.6f} vs mean delta {delta:.6f}')
        attr = gradient_shap(port, x, HAPPY, **GSHAP)
        write(f'case{case}_gradient_shap_c3.f32', attr, method='gradient_shap', baselines='noise_around_black', contrast=None,
              sum_attributions=float(attr.sum()), **GSHAP, **base)
    return lines


# --- RISE, Blur IG, Guided IG (issue 18) ---------------------------------------------------------

class Pcg32:
    """core/base/rng.h's generator (PCG32 XSH-RR, same seeding), so RISE's masks can be rebuilt here."""
    M64 = (1 << 64) - 1

    def __init__(self, seed, stream=0xda3e39cb94b95bdb):
        self.inc = ((stream << 1) | 1) & self.M64
        self.state = 0
        self.next_u32()
        self.state = (self.state + seed) & self.M64
        self.next_u32()

    def next_u32(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & self.M64
        xs = (((old >> 18) ^ old) >> 27) & 0xffffffff
        rot = old >> 59
        return ((xs >> rot) | (xs << ((-rot) & 31))) & 0xffffffff

    def uniform(self):
        return (self.next_u32() >> 8) / 16777216.0

    def below(self, n):
        return (self.next_u32() * n) >> 32


def rise(port, x, cls, samples, cells, p, seed):
    """Petsiuk et al. 2018: sum_i P(cls | x * M_i) M_i / (N p). Per mask, from one stream: an s x s grid of
    uniform() < p row by row, then the shift below(cell_h), below(cell_w); the grid is upsampled bilinearly
    (align_corners=False) to (s+1)*cell and cropped at the shift. Black (0) is the fill of this [0,1] model."""
    _, h, w, _ = x.shape
    ch, cw = -(-h // cells), -(-w // cells)
    rng = Pcg32(seed)
    masks = []
    for _ in range(samples):
        grid = torch.tensor([[1.0 if rng.uniform() < p else 0.0 for _ in range(cells)] for _ in range(cells)], dtype=DT)
        dy, dx = rng.below(ch), rng.below(cw)
        up = F.interpolate(grid[None, None], size=((cells + 1) * ch, (cells + 1) * cw), mode='bilinear', align_corners=False)
        masks.append(up[0, 0, dy:dy + h, dx:dx + w])
    M = torch.stack(masks)  # [N, h, w]
    with torch.no_grad():
        probs = torch.cat([port.forward(x * M[i:i + 100, :, :, None])['Identity'][:, cls] for i in range(0, samples, 100)])
    return (probs[:, None, None] * M).sum(dim=0) / (samples * p), float(M.mean())


def blur_ig(port, x, cls, max_sigma, steps):
    """Xu et al. 2020: -integral of dL/dsigma * grad f(L(x, sigma)) from 0 to max_sigma, L(x, s) = K_s x K_s^T with
    untruncated Gaussians normalised over the image; each interval [i, i+1] * max_sigma / steps sampled at its
    midpoint; dL/dsigma by a float64 central difference (1e-4), not the closed form the engine uses."""
    img = x[0, :, :, 0].numpy()

    def blur(s):
        def k(n):
            d = np.arange(n)[:, None] - np.arange(n)[None, :]
            g = np.exp(-0.5 * d * d / (s * s))
            return g / g.sum(axis=1, keepdims=True)
        return k(img.shape[0]) @ img @ k(img.shape[1]).T

    ends = np.arange(steps + 1) * max_sigma / steps
    mids, ds = (ends[:-1] + ends[1:]) / 2, np.diff(ends)
    path = torch.from_numpy(np.stack([blur(m) for m in mids]))[..., None]
    dl = np.stack([(blur(m + 1e-4) - blur(m - 1e-4)) / 2e-4 for m in mids])
    g = torch.cat([input_grad(port, path[i:i + 50], cls)[0] for i in range(0, steps, 50)])[..., 0].numpy()
    attr = -(ds[:, None, None] * dl * g).sum(axis=0)[..., None]
    with torch.no_grad():
        l = port.forward(torch.cat([x, torch.from_numpy(blur(max_sigma))[None, :, :, None]]))[LOGITS][:, cls]
    return attr, float(attr.sum()), float(l[0] - l[1])


def guided_ig(port, x, cls, steps, fraction, max_dist):
    """Kapishnikov et al. 2021 (Guided IG), black baseline, written from the paper's algorithm as PAIR states it: at
    step k the band is alpha +- max_dist, alpha = (k+1)/steps; features behind the band join its lower edge; then
    passes move the `fraction` of features with the smallest |g| (NumPy quantile 'lower'; features at the band's upper
    edge excluded) to the upper edge, or by the share gamma of the way that lands exactly on the step's L1 target.
    attribution += dx * g(step start)."""
    xin = x[0].numpy()
    base = np.zeros_like(xin)
    span = xin - base
    total = np.abs(span).sum()
    cur, attr = base.copy(), np.zeros_like(xin)
    for k in range(steps):
        g0 = input_grad(port, torch.from_numpy(cur)[None], cls)[0][0].numpy()
        g = g0.copy()
        alpha = (k + 1) / steps
        lo, hi = max(alpha - max_dist, 0.0), min(alpha + max_dist, 1.0)
        x_lo, x_hi = base + span * lo, base + span * hi
        target = total * (1 - alpha)
        while True:
            before = cur.copy()
            with np.errstate(divide='ignore', invalid='ignore'):
                a = np.where(span != 0, (cur - base) / span, hi)
            cur = np.where(a < lo, x_lo, cur)
            now = np.abs(cur - xin).sum()
            if abs(now - target) <= max(1e-9 * max(now, target), 1e-9):
                attr += (cur - before) * g0
                break
            g[cur == x_hi] = np.inf
            thr = np.quantile(np.abs(g), fraction, method='lower')
            sel = (np.abs(g) <= thr) & (g != np.inf)
            room = (np.abs(cur - x_hi) * sel).sum()
            gamma = (now - target) / room if room > 0 else np.inf
            cur = np.where(sel, x_hi if gamma > 1 else cur + (x_hi - cur) * gamma, cur)
            attr += (cur - before) * g0
            if gamma <= 1:
                break
    with torch.no_grad():
        l = port.forward(torch.cat([x, torch.zeros_like(x)]))[LOGITS][:, cls]
    return attr, float(attr.sum()), float(l[0] - l[1])


# --- Main ---------------------------------------------------------------------------------------

def cam_variant(port, x, cls, layer, variant):
    """The gradient CAMs from their papers, at layer resolution [h,w]:
    hirescam relu(sum_k G_k A_k); xgradcam relu(sum_k w_k A_k), w_k = sum_ij G_k A_k / (sum_ij A_k + 1e-7);
    layercam relu(sum_k relu(G_k) A_k)."""
    out = port.forward(x.clone().requires_grad_(True))
    A = out[layer]
    (G,) = torch.autograd.grad(out[LOGITS][:, cls].sum(), A)
    if variant == 'hirescam':
        cam = (G * A).sum(dim=1)
    elif variant == 'xgradcam':
        w = (G * A).sum(dim=(2, 3), keepdim=True) / (A.sum(dim=(2, 3), keepdim=True) + 1e-7)
        cam = (w * A).sum(dim=1)
    else:
        cam = (torch.relu(G) * A).sum(dim=1)
    return torch.relu(cam).detach()[0]


def eigen_cam(port, x, layer):
    """Eigen-CAM (Muhammad & Yeasin 2020, as pytorch-grad-cam's get_2d_projection): the activations [hw, k] centred per
    channel, projected on their first right-singular vector (torch.linalg.svd), then relu. The SVD's sign is arbitrary;
    it is fixed so that the projection correlates positively with the centred total activation per position.
    Returns the cam [h,w] and whether LAPACK's own sign already did."""
    with torch.no_grad():
        A = port.forward(x)[layer][0]  # [k,h,w]
    k, h, w = A.shape
    X = A.reshape(k, -1).T
    X = X - X.mean(dim=0)
    _, _, Vh = torch.linalg.svd(X, full_matrices=False)
    p = X @ Vh[0]
    agree = float((p * X.sum(dim=1)).sum()) >= 0
    return torch.relu(p if agree else -p).reshape(h, w), agree


def score_cam(port, x, cls, layer, batch=32):
    """Score-CAM (Wang et al. 2020) as pytorch-grad-cam computes it: each channel of the layer upsampled to the input
    (bilinear, align_corners=True), scaled to [0, 1] by (M - min) / (max - min + 1e-8), multiplied into the input;
    weights = softmax over channels of the target logit on the masked inputs; cam = relu(sum_k w_k A_k)."""
    with torch.no_grad():
        A = port.forward(x)[layer]  # [1,k,h,w]
        up = F.interpolate(A, size=tuple(x.shape[1:3]), mode='bilinear', align_corners=True)[0]  # [k,H,W]
        lo, hi = up.amin(dim=(1, 2), keepdim=True), up.amax(dim=(1, 2), keepdim=True)
        masks = (up - lo) / (hi - lo + 1e-8)
        masked = x * masks[:, :, :, None]  # [k,H,W,1]: x is [1,H,W,1]
        s = torch.cat([port.forward(masked[i:i + batch])[LOGITS][:, cls] for i in range(0, masked.shape[0], batch)])
        w = torch.softmax(s, dim=0)
        return torch.relu((w.view(1, -1, 1, 1) * A).sum(dim=1))[0], w


def ablation_cam(port, x, cls, layer, batch=32):
    """Ablation-CAM (Desai & Ramaswamy 2020): y_k is the target logit with channel k of the layer set to 0 (the
    paper's ablation), w_k = (y - y_k) / y, cam = relu(sum_k w_k A_k)."""
    with torch.no_grad():
        A = port.forward(x)[layer]  # [1,k,h,w]
        y = float(port.forward(x)[LOGITS][0, cls])
        k = A.shape[1]
        ys = []
        for i in range(0, k, batch):
            n = min(batch, k - i)
            a = A.repeat(n, 1, 1, 1)
            for j in range(n):
                a[j, i + j] = 0
            ys.append(port.forward(x.repeat(n, 1, 1, 1), replace={layer: a})[LOGITS][:, cls])
        w = (y - torch.cat(ys)) / y
        return torch.relu((w.view(1, -1, 1, 1) * A).sum(dim=1))[0], w


# --- LRP ----------------------------------------------------------------------------------------
# Written from Montavon et al. 2019 ("Layer-wise relevance propagation: an overview", section 10.2:
# z = rho(W) x, s = R / z, c = rho(W)^T s by autograd, R_in = x * c) and Anders et al. 2021 (Zennit:
# the generalised rules for inputs of both signs and the composites). Relevance flows through the
# TF graph node by node: activations pass it, MaxPool sends it to the window's winner (the
# gradient), AddV2 and Mean split it in proportion to their inputs.

LRP_STAB = 1e-6
LRP_COMPOSITES = {  # name: (convolutions, first layer)
    'epsilon': ('epsilon', None),
    'epsilon_plus': ('zplus', None),
    'epsilon_plus_flat': ('zplus', 'flat'),
    'epsilon_gamma_box': ('gamma', 'zbox'),
    'epsilon_alpha2_beta1': ('alpha2beta1', None),
    'epsilon_alpha2_beta1_flat': ('alpha2beta1', 'flat'),
}


def stab(z, eps):
    return z + eps * torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))


def lrp_layer(R, x, W, b, f, rule, eps, gamma, box):
    """Relevance of x for a layer z = f(x, W) + b, given R of z. f is linear in x and in W."""
    pos, neg = (lambda t: t.clamp(min=0)), (lambda t: t.clamp(max=0))
    zero = None

    def fwd(xi, Wi, bi):
        z = f(xi, Wi)
        return z if bi is None else z + bi.view(1, -1, 1, 1)

    def back(xi, Wi, s):  # rho(W)^T s through autograd
        xv = xi.detach().clone().requires_grad_(True)
        (c,) = torch.autograd.grad(f(xv, Wi), xv, s)
        return c

    def bias(fn):
        return None if b is None else fn(b)

    if rule == 'epsilon':
        s = R / stab(fwd(x, W, b), eps)
        return x * back(x, W, s)
    if rule in ('zplus', 'alpha2beta1'):
        alpha, beta = (1.0, 0.0) if rule == 'zplus' else (2.0, 1.0)
        zp = fwd(pos(x), pos(W), bias(pos)) + fwd(neg(x), neg(W), zero)
        sp = R / stab(zp, LRP_STAB)
        out = alpha * (pos(x) * back(pos(x), pos(W), sp) + neg(x) * back(neg(x), neg(W), sp))
        if beta:
            zn = fwd(pos(x), neg(W), bias(neg)) + fwd(neg(x), pos(W), zero)
            sn = R / stab(zn, LRP_STAB)
            out = out - beta * (pos(x) * back(pos(x), neg(W), sn) + neg(x) * back(neg(x), pos(W), sn))
        return out
    if rule == 'gamma':
        z = fwd(x, W, b)
        Wp, Wn = W + gamma * pos(W), W + gamma * neg(W)
        bp, bn = bias(lambda t: t + gamma * pos(t)), bias(lambda t: t + gamma * neg(t))
        sp = (z > 0).to(DT) * R / stab(fwd(pos(x), Wp, bp) + fwd(neg(x), Wn, zero), LRP_STAB)
        sn = (z < 0).to(DT) * R / stab(fwd(pos(x), Wn, bn) + fwd(neg(x), Wp, zero), LRP_STAB)
        return (pos(x) * back(pos(x), Wp, sp) + neg(x) * back(neg(x), Wn, sp)
                + pos(x) * back(pos(x), Wn, sn) + neg(x) * back(neg(x), Wp, sn))
    if rule == 'flat':
        one, W1 = torch.ones_like(x), torch.ones_like(W)
        return back(one, W1, R / stab(fwd(one, W1, zero), LRP_STAB))
    if rule == 'wsquare':
        one = torch.ones_like(x)
        return back(one, W * W, R / stab(fwd(one, W * W, bias(lambda t: t * t)), LRP_STAB))
    if rule == 'zbox':
        lo, hi = torch.full_like(x, box[0]), torch.full_like(x, box[1])
        z = fwd(x, W, b) - fwd(lo, pos(W), bias(pos)) - fwd(hi, neg(W), bias(neg))
        s = R / stab(z, LRP_STAB)
        return x * back(x, W, s) - lo * back(lo, pos(W), s) - hi * back(hi, neg(W), s)
    raise ValueError(rule)


def lrp(port, x, cls, composite, first=None, eps=1e-6, gamma=0.25, box=(0.0, 1.0), contrast=None):
    """Input relevance [64,64,1] of one image x [1,64,64,1]; relevance starts as the logit one-hot."""
    conv_rule, first_rule = LRP_COMPOSITES[composite]
    if first is not None:
        first_rule = first
    with torch.no_grad():
        v = port.forward(x)
    R = {}

    def add(name, r):
        R[name] = R[name] + r if name in R else r

    logits = v[LOGITS]
    r0 = torch.zeros_like(logits)
    r0[:, cls] = logits[:, cls]
    if contrast is not None:
        r0[:, contrast] -= logits[:, contrast]
    add(LOGITS, r0)
    convs = [n for n in port.order if port.nodes[n]['op'] in ('_FusedConv2D', 'DepthwiseConv2dNative')]
    for name in reversed(port.order):
        if name not in R:
            continue
        node = port.nodes[name]
        op, r = node['op'], R[name]
        ins = port._inputs(node)
        if op == 'Placeholder':
            continue
        if op in ('Relu', 'Identity'):
            add(ins[0], r)
        elif op in ('_FusedConv2D', 'DepthwiseConv2dNative'):
            depthwise = op == 'DepthwiseConv2dNative'
            W = port.consts[ins[1]]
            b = port.consts[ins[2]] if not depthwise else None
            rule = first_rule if (first_rule and name == convs[0]) else conv_rule
            xin = v[ins[0]]
            f = lambda xi, Wi, node=node, depthwise=depthwise: port._conv(node, xi, Wi, depthwise)
            add(ins[0], lrp_layer(r, xin, W, b, f, rule, eps, gamma, box))
        elif op == 'MaxPool':
            xv = v[ins[0]].detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(port._maxpool(node, xv), xv, r)
            add(ins[0], g)
        elif op == 'AddV2':
            z = v[name]
            s = r / stab(z, LRP_STAB)
            add(ins[0], v[ins[0]] * s)
            add(ins[1], v[ins[1]] * s)
        elif op == 'Mean':
            a = v[ins[0]]
            s = r / stab(v[name], LRP_STAB)
            add(ins[0], a * s.view(s.shape[0], -1, 1, 1) / (a.shape[2] * a.shape[3]))
        else:
            raise NotImplementedError(f'LRP: {op}')
    inp = [n for n in port.order if port.nodes[n]['op'] == 'Placeholder'][0]
    return R[inp].permute(0, 2, 3, 1)[0], float(logits[0, cls] - (logits[0, contrast] if contrast is not None else 0))


# (case, composite, first-layer override, contrast): every composite on case 0, the default on all.
LRP_RUNS = ([(0, c, None, None) for c in LRP_COMPOSITES] + [(0, 'epsilon_plus', 'wsquare', None), (0, 'epsilon_plus_flat', None, SAD)]
            + [(c, 'epsilon_plus_flat', None, None) for c in (1, 2)])


def lrp_fixtures(port, X, meta, write):
    lines = []
    for case, composite, first, contrast in LRP_RUNS:
        x = X[case:case + 1]
        rel, sc = lrp(port, x, HAPPY, composite, first, contrast=contrast)
        tag = composite + (f'_first_{first}' if first else '') + (f'_m{contrast}' if contrast is not None else '')
        total = float(rel.sum())
        write(f'case{case}_lrp_{tag}_c3.f32', rel, method='lrp', composite=composite, first=first or 'composite',
              **{'class': HAPPY}, contrast=contrast, epsilon=1e-6, gamma=0.25, box=[0.0, 1.0], score=sc, relevance_sum=total,
              case=case, case_name=meta['cases'][case]['name'])
        lines.append(f'case {case} lrp {tag}: relevance sum {total:.6f} vs score {sc:.6f}')
    return lines


def read_f32(path, shape):
    a = np.fromfile(path, '<f4')
    assert a.size == int(np.prod(shape)), f'{path}: {a.size} floats, expected {shape}'
    return a.reshape(shape)


def rel_l2(a, b):
    return float(np.linalg.norm((a - b).ravel()) / max(np.linalg.norm(b.ravel()), 1e-30))


def main():
    if not os.path.exists(os.path.join(MODEL_DIR, 'emotion.json')):
        sys.exit('run from the repository root')
    port = GraphPort(MODEL_DIR)
    meta = json.load(open(INPUTS_META))
    n, h, w, c = meta['count'], meta['height'], meta['width'], meta['channels']
    inputs = read_f32(INPUTS, (n, h, w, c))
    X = torch.from_numpy(inputs.astype(np.float64))

    # 1. Verification against TF.js (float32 cpu backend).
    g_all, out = input_grad(port, X, HAPPY)
    probs = out['Identity'].detach().numpy()
    logits = out[LOGITS].detach().numpy()
    tf_probs = read_f32(os.path.join(ORACLE_DIR, 'probs.f32'), (n, 7))
    tf_logits = read_f32(os.path.join(ORACLE_DIR, 'logits.f32'), (n, 7))
    tf_grad = read_f32(os.path.join(ORACLE_DIR, 'grad_logit3.f32'), (n, h, w, c))
    d_probs = float(np.abs(probs - tf_probs).max())
    d_logits = float(np.abs(logits - tf_logits).max())
    g_np = g_all.numpy()
    grad_rel = [rel_l2(g_np[i], tf_grad[i]) for i in range(n)]
    print(f'verification vs TF.js: probs max |diff| {d_probs:.3e}, logits max |diff| {d_logits:.3e}, '
          f'dlogit3/dx rel L2 per case max {max(grad_rel):.3e} (max |diff| {np.abs(g_np - tf_grad).max():.3e})')
    if d_probs > 1e-5:
        sys.exit(f'FAIL: probabilities differ from TF.js by {d_probs:.3e} > 1e-5')
    if max(grad_rel) > 1e-4:
        sys.exit(f'FAIL: gradients differ from TF.js (rel L2 {max(grad_rel):.3e})')

    # 2. Fixtures.
    os.makedirs(OUT_DIR, exist_ok=True)
    files = []
    # --only-lrp / --only-reference: rewrite those fixtures and keep the others as they are.
    reference_methods = ('deeplift', 'deepshap', 'gradient_shap')
    only_lrp, only_reference = '--only-lrp' in sys.argv, '--only-reference' in sys.argv
    if only_lrp or only_reference:
        rewritten = ('lrp',) if only_lrp else reference_methods
        old = json.load(open(os.path.join(OUT_DIR, 'fixtures.json')))
        files = [f for f in old['files'] if f.get('method') not in rewritten]

    def write(name, arr, **desc):
        a = np.ascontiguousarray(arr.detach().numpy() if torch.is_tensor(arr) else arr, dtype='<f4')
        a.tofile(os.path.join(OUT_DIR, name))
        files.append({'name': name, **desc, 'shape': list(a.shape)})
        return a

    summary = [] if only_reference else lrp_fixtures(port, X, meta, write)
    if not only_lrp:
        summary += reference_fixtures(port, X, meta, write)
    for case in ([] if only_lrp or only_reference else CASES):
        x = X[case:case + 1]
        cname = meta['cases'][case]['name']
        base = dict(case=case, case_name=cname)
        for cls, contrast in [(HAPPY, None), (ANGRY, None), (HAPPY, SAD)]:
            g, _ = input_grad(port, x, cls, contrast)
            tag = f'c{cls}' + (f'm{contrast}' if contrast is not None else '')
            write(f'case{case}_saliency_{tag}.f32', g[0], method='saliency', **{'class': cls}, contrast=contrast, **base)
        g, _ = input_grad(port, x, HAPPY, guided=True)
        a = write(f'case{case}_guided_c3.f32', g[0], method='guided', **{'class': HAPPY}, contrast=None, **base)
        frac_pos = float((a > 0).mean())
        attr, s, delta = integrated_gradients(port, x, HAPPY, IG_STEPS)
        write(f'case{case}_ig_c3.f32', attr, method='ig', **{'class': HAPPY}, contrast=None, steps=IG_STEPS, baseline='black',
              alphas='(k + 0.5) / steps', sum_attributions=s, score_delta=delta, **base)
        sal, mask_mean = rise(port, x, HAPPY, **RISE)
        write(f'case{case}_rise_c3.f32', sal, method='rise', **{'class': HAPPY}, contrast=None, score='probability',
              fill='black', mask_mean=mask_mean, **RISE, **base)
        attr, s_b, delta_b = blur_ig(port, x, HAPPY, **BLUR_IG)
        write(f'case{case}_blur_ig_c3.f32', attr, method='blur_ig', **{'class': HAPPY}, contrast=None, spacing='linear',
              sum_attributions=s_b, score_delta=delta_b, **BLUR_IG, **base)
        attr, s_g, delta_g = guided_ig(port, x, HAPPY, **GUIDED_IG)
        write(f'case{case}_guided_ig_c3.f32', attr, method='guided_ig', **{'class': HAPPY}, contrast=None, baseline='black',
              sum_attributions=s_g, score_delta=delta_g, **GUIDED_IG, **base)
        cams = []
        for layer in CAM_LAYERS:
            short = layer[len(PREFIX):]
            stem = short.split('/')[0]
            cam, up = grad_cam(port, x, HAPPY, layer)
            ldesc = dict(method='gradcam', **{'class': HAPPY}, contrast=None, layer=layer, **base)
            write(f'case{case}_gradcam_{stem}_c3_cam.f32', cam, map='cam', **ldesc)
            write(f'case{case}_gradcam_{stem}_c3_up.f32', up, map='upsampled', upsample="F.interpolate bilinear align_corners=False", **ldesc)
            cams.append(f'{stem} {tuple(cam.shape)} max {float(cam.max()):.4g} zero {float((cam == 0).double().mean()):.0%}')
            for variant in ('hirescam', 'xgradcam', 'layercam'):
                vc = cam_variant(port, x, HAPPY, layer, variant)
                write(f'case{case}_{variant}_{stem}_c3_cam.f32', vc, map='cam', **{**ldesc, 'method': variant})
            sc, sw = score_cam(port, x, HAPPY, layer)
            write(f'case{case}_scorecam_{stem}_c3_cam.f32', sc, map='cam', **{**ldesc, 'method': 'scorecam'})
            write(f'case{case}_scorecam_{stem}_c3_weights.f32', sw, map='weights', **{**ldesc, 'method': 'scorecam'})
            ac, aw = ablation_cam(port, x, HAPPY, layer)
            write(f'case{case}_ablationcam_{stem}_c3_cam.f32', ac, map='cam', **{**ldesc, 'method': 'ablationcam'})
            write(f'case{case}_ablationcam_{stem}_c3_weights.f32', aw, map='weights', **{**ldesc, 'method': 'ablationcam'})
            ec, lapack_sign = eigen_cam(port, x, layer)
            write(f'case{case}_eigencam_{stem}_cam.f32', ec, map='cam', lapack_sign_kept=lapack_sign, **{**ldesc, 'method': 'eigencam'})
        summary.append(f'case {case} ({cname}): logits {np.array2string(logits[case], precision=3)}; guided >0 {frac_pos:.0%}; '
                       f'IG sum {s:.6f} vs delta {delta:.6f} (rel err {abs(s - delta) / abs(delta):.2%}); '
                       f'Blur IG sum {s_b:.6f} vs delta {delta_b:.6f} (rel err {abs(s_b - delta_b) / abs(delta_b):.2%}); '
                       f'Guided IG sum {s_g:.6f} vs delta {delta_g:.6f} (rel err {abs(s_g - delta_g) / abs(delta_g):.2%}); ' + '; '.join(cams))

    fixtures = {
        'generated_by': 'tests/oracle/torch_explain.py (PyTorch %s, float64, values stored as float32 LE)' % torch.__version__,
        'model': MODEL_DIR, 'inputs': INPUTS, 'layout': 'maps [H,W,C] (attribution) or [h,w] (CAM), row-major',
        'target_score': 'logit (node %s)' % LOGITS,
        'classes': ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'],
        'relu_rule_guided': 'g * [x > 0] * [g > 0], every ReLU incl. fused into convolutions',
        'lrp': 'relevance starts as the target logit (minus the contrast logit) one-hot; stabilise z + 1e-6 sign(z), '
               'sign(0) = +1; composites: ' + json.dumps(LRP_COMPOSITES),
        'deeplift': 'rescale rule on every ReLU (fused into convolutions too), Captum\'s max-pool split, |x - x0| < 1e-6 '
                    'takes the derivative; black baseline (0); DeepSHAP and GradientSHAP draw their baselines and alphas from '
                    'core/base/rng.h\'s streams (draw k from stream k)',
        'verification_vs_tfjs': {'probs_max_abs_diff': d_probs, 'logits_max_abs_diff': d_logits,
                                 'grad_logit3_rel_l2_per_case': grad_rel},
        'files': files,
    }
    json.dump(fixtures, open(os.path.join(OUT_DIR, 'fixtures.json'), 'w'), indent=1)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f['name'])) for f in files)
    print('\n'.join(summary))
    print(f'{len(files)} files, {total / 1024:.0f} KiB -> {OUT_DIR}/ (+ fixtures.json)')


if __name__ == '__main__':
    main()
