"""Reference outputs for the Keras (TF.js layers-model) fixtures in tests/data/keras/, from an independent float64
PyTorch reading of each hand-written model.json. No TensorFlow here: Keras' channels-last semantics are written out
(TF 'same' padding puts the odd pad at the bottom/right and average pooling does not count it; Flatten is HWC order).

For every folder tests/data/keras/<model>/ holding a model.json this script
  1. writes the weight shards its manifest names, with deterministic values per weight name (committed);
  2. runs the model on CASES inputs made by the integer hash below (tests/import/tfjs_layers_test.cpp makes the same);
  3. writes reference.json (logits, probabilities, per-layer output statistics) and grad_logit.f32 / grad_prob.f32,
     the input gradients of the target class' logit and probability, float32 [CASES, H, W, C].
Run from the repository root: /usr/bin/python3 tests/oracle/keras_reference.py"""
import json
import os
import zlib

import numpy as np
import torch
import torch.nn.functional as F

ROOT = 'tests/data/keras'
CASES = 2
DT = torch.float64


# --- Deterministic inputs and weights ------------------------------------------------------------

def hashed_inputs(case, n):
    """Uniform [0, 1) values from a 32-bit integer hash of (case, index); exactly reproducible in C++."""
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(case) * np.uint64(40503) + np.uint64(12345)) & np.uint64(0xffffffff)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & np.uint64(0xffffffff)
    h ^= h >> np.uint64(13)
    return (h >> np.uint64(8)).astype(np.float64) / float(1 << 24)


def make_weight(name, shape):
    """Values suited to the weight's role, seeded by its name (He-scaled kernels keep activations O(1))."""
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    kind = name.split('/')[-1].split(':')[0]
    if kind in ('kernel', 'depthwise_kernel', 'pointwise_kernel'):
        fan_in = int(np.prod(shape[:-1])) if kind != 'depthwise_kernel' else int(shape[0] * shape[1])
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
    if kind == 'gamma':
        return rng.uniform(0.5, 1.5, shape)
    if kind == 'moving_variance':
        return rng.uniform(0.5, 2.0, shape)
    if kind == 'alpha':
        return rng.uniform(0.05, 0.4, shape)
    return rng.uniform(-0.2, 0.2, shape)  # bias, beta, moving_mean


def write_weights(model, folder):
    """Writes each manifest group's shards (a group with two paths is split mid-weight, as the converter may)."""
    weights = {}
    for group in model['weightsManifest']:
        blob = b''
        for w in group['weights']:
            v = make_weight(w['name'], w['shape']).astype(np.float32)
            weights[w['name']] = torch.tensor(v.astype(np.float64), dtype=DT)
            blob += v.tobytes()
        paths = group['paths']
        cut = [len(blob) * k // len(paths) for k in range(len(paths) + 1)]
        for k, p in enumerate(paths):
            with open(os.path.join(folder, p), 'wb') as f:
                f.write(blob[cut[k]:cut[k + 1]])
    return weights


# --- Keras semantics, channels last ----------------------------------------------------------------

def pair(v, default):
    if v is None:
        return default
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def pad_nhwc(x, top, bottom, left, right, value=0.0):
    return F.pad(x, (0, 0, left, right, top, bottom), value=value)


def conv(x, w_oihw, bias, cfg, groups):
    """x NHWC, torch weight [out, in/groups, kh, kw]."""
    kh, kw = w_oihw.shape[2], w_oihw.shape[3]
    sh, sw = pair(cfg.get('strides'), (1, 1))
    dh, dw = pair(cfg.get('dilation_rate'), (1, 1))
    if cfg.get('padding', 'valid') == 'same':
        t, b = same_pads(x.shape[1], kh, sh, dh)
        l, r = same_pads(x.shape[2], kw, sw, dw)
        x = pad_nhwc(x, t, b, l, r)
    y = F.conv2d(x.permute(0, 3, 1, 2), w_oihw, bias, (sh, sw), 0, (dh, dw), groups)
    return y.permute(0, 2, 3, 1)


def activation(x, name):
    if name in (None, 'linear'):
        return x
    return {'relu': torch.relu, 'relu6': lambda v: torch.clamp(v, 0, 6), 'elu': F.elu, 'selu': torch.selu,
            'sigmoid': torch.sigmoid, 'tanh': torch.tanh, 'softmax': lambda v: torch.softmax(v, -1),
            'swish': lambda v: v * torch.sigmoid(v), 'silu': lambda v: v * torch.sigmoid(v)}[name](x)


def find_weight(weights, layer, kind):
    hits = [n for n in weights if n.split('/')[-1].split(':')[0] == kind and layer in n.split('/')[:-1]]
    assert len(hits) == 1, (layer, kind, hits)
    return weights[hits[0]]


def pool(x, cfg, kind):
    kh, kw = pair(cfg.get('pool_size'), (2, 2))
    sh, sw = pair(cfg.get('strides'), (kh, kw))
    t = b = l = r = 0
    if cfg.get('padding', 'valid') == 'same':
        t, b = same_pads(x.shape[1], kh, sh, 1)
        l, r = same_pads(x.shape[2], kw, sw, 1)
    if kind == 'max':
        xp = pad_nhwc(x, t, b, l, r, value=-float('inf')).permute(0, 3, 1, 2)
        return F.max_pool2d(xp, (kh, kw), (sh, sw)).permute(0, 2, 3, 1)
    # Average over the window's valid pixels only: sum of padded values / number of real pixels.
    xp = pad_nhwc(x, t, b, l, r).permute(0, 3, 1, 2)
    ones = pad_nhwc(torch.ones_like(x[:, :, :, :1]), t, b, l, r).permute(0, 3, 1, 2)
    s = F.avg_pool2d(xp, (kh, kw), (sh, sw)) * (kh * kw)
    n = F.avg_pool2d(ones, (kh, kw), (sh, sw)) * (kh * kw)
    return (s / n).permute(0, 2, 3, 1)


def run_layer(cls, cfg, name, ins, weights):
    x = ins[0]
    w = lambda kind: find_weight(weights, name, kind)
    if cls == 'Conv2D':
        k = w('kernel')  # [kh, kw, in/groups, out]
        b = w('bias') if cfg.get('use_bias', True) else None
        return activation(conv(x, k.permute(3, 2, 0, 1), b, cfg, cfg.get('groups', 1)), cfg.get('activation'))
    if cls in ('DepthwiseConv2D', 'SeparableConv2D'):
        dk = w('depthwise_kernel')  # [kh, kw, C, m]: output channel c*m + j reads channel c
        c, m = dk.shape[2], dk.shape[3]
        wt = dk.permute(2, 3, 0, 1).reshape(c * m, 1, dk.shape[0], dk.shape[1])
        b = w('bias') if cfg.get('use_bias', True) else None
        if cls == 'DepthwiseConv2D':
            return activation(conv(x, wt, b, cfg, c), cfg.get('activation'))
        y = conv(x, wt, None, cfg, c)
        pk = w('pointwise_kernel')
        y = conv(y, pk.permute(3, 2, 0, 1), b, {}, 1)
        return activation(y, cfg.get('activation'))
    if cls == 'Dense':
        y = x @ w('kernel')
        if cfg.get('use_bias', True):
            y = y + w('bias')
        return activation(y, cfg.get('activation'))
    if cls == 'BatchNormalization':
        ch = x.shape[-1]
        gamma = w('gamma') if cfg.get('scale', True) else torch.ones(ch, dtype=DT)
        beta = w('beta') if cfg.get('center', True) else torch.zeros(ch, dtype=DT)
        return (x - w('moving_mean')) / torch.sqrt(w('moving_variance') + cfg.get('epsilon', 1e-3)) * gamma + beta
    if cls == 'Activation':
        return activation(x, cfg['activation'])
    if cls == 'ReLU':
        mx, slope, thr = cfg.get('max_value'), cfg.get('negative_slope', 0.0), cfg.get('threshold', 0.0)
        y = torch.where(x >= thr, x, slope * (x - thr))
        return torch.clamp(y, max=mx) if mx is not None else y
    if cls == 'LeakyReLU':
        return torch.where(x > 0, x, cfg.get('alpha', 0.3) * x)
    if cls == 'PReLU':
        return torch.relu(x) - w('alpha') * torch.relu(-x)  # alpha broadcasts over the shared axes
    if cls == 'ELU':
        a = cfg.get('alpha', 1.0)
        return torch.where(x > 0, x, a * (torch.exp(x) - 1))
    if cls == 'Softmax':
        return torch.softmax(x, -1)
    if cls in ('MaxPooling2D', 'AveragePooling2D'):
        return pool(x, cfg, 'max' if cls == 'MaxPooling2D' else 'avg')
    if cls == 'GlobalAveragePooling2D':
        return x.mean(dim=(1, 2), keepdim=cfg.get('keepdims', False))
    if cls == 'GlobalMaxPooling2D':
        return x.amax(dim=(1, 2), keepdim=cfg.get('keepdims', False))
    if cls == 'Flatten':
        return x.reshape(x.shape[0], -1)  # NHWC memory order: Keras' channels_last flatten
    if cls == 'Reshape':
        return x.reshape(x.shape[0], *cfg['target_shape'])
    if cls == 'ZeroPadding2D':
        p = cfg['padding']
        (t, b), (l, r) = ((p, p), (p, p)) if isinstance(p, int) else [(q, q) if isinstance(q, int) else q for q in p]
        return pad_nhwc(x, t, b, l, r)
    if cls in ('Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout'):
        return x
    if cls == 'Add':
        return sum(ins[1:], ins[0])
    if cls == 'Concatenate':
        return torch.cat(ins, dim=cfg.get('axis', -1))
    if cls == 'Rescaling':
        return x * cfg['scale'] + cfg.get('offset', 0.0)
    raise ValueError('layer class ' + cls)


def layer_list(model):
    """[(class, config, name, [input layer names])] in execution order, and the input/output layer names."""
    mc = model['modelTopology'].get('model_config', model['modelTopology'])
    cfg = mc['config']
    out = []
    if mc['class_name'] == 'Sequential':
        layers = cfg if isinstance(cfg, list) else cfg['layers']
        prev = None
        for l in layers:
            c = l['config']
            if l['class_name'] == 'InputLayer':
                prev = c['name']
                inp = (prev, c['batch_input_shape'])
                continue
            if prev is None:
                prev = c['name'] + '_input'
                inp = (prev, c['batch_input_shape'])
            out.append((l['class_name'], c, c['name'], [prev]))
            prev = c['name']
        return out, inp, prev
    for l in cfg['layers']:
        if l['class_name'] == 'InputLayer':
            inp = (l['name'], l['config']['batch_input_shape'])
            continue
        assert len(l['inbound_nodes']) == 1
        out.append((l['class_name'], l['config'], l['name'], [r[0] for r in l['inbound_nodes'][0]]))
    return out, inp, cfg['output_layers'][0][0]


def forward(layers, inp_name, x, weights):
    values = {inp_name: x}
    for cls, cfg, name, srcs in layers:
        values[name] = run_layer(cls, cfg, name, [values[s] for s in srcs], weights)
    return values


def main():
    for model_name in sorted(os.listdir(ROOT)):
        folder = os.path.join(ROOT, model_name)
        if not os.path.isfile(os.path.join(folder, 'model.json')):
            continue
        model = json.load(open(os.path.join(folder, 'model.json')))
        weights = write_weights(model, folder)
        layers, (inp_name, shape), out_name = layer_list(model)
        h, w, c = shape[1:]
        x = torch.tensor(np.stack([hashed_inputs(k, h * w * c).reshape(h, w, c) for k in range(CASES)]), dtype=DT)
        x.requires_grad_(True)
        values = forward(layers, inp_name, x, weights)
        probs = values[out_name]
        logits_name = [s for cls, cfg, name, s in layers if name == out_name][0][0]
        last = [l for l in layers if l[2] == out_name][0]
        if last[0] == 'Dense':  # Dense(activation='softmax'): logits before the activation
            logits = run_layer('Dense', dict(last[1], activation='linear'), out_name, [values[last[3][0]]], weights)
            logits_name = out_name + '/linear'
        else:
            logits = values[logits_name]
        target = min(3, probs.shape[1] - 1)
        grads = {}
        for kind, score in (('logit', logits), ('prob', probs)):
            g, = torch.autograd.grad(score[:, target].sum(), x, retain_graph=True)
            grads[kind] = g
            g.detach().numpy().astype(np.float32).tofile(os.path.join(folder, 'grad_%s.f32' % kind))
        stats = {}
        for cls, cfg, name, srcs in layers:
            v = values[name].detach()[0]
            stats[name] = {'shape': list(v.shape), 'mean': float(v.mean()), 'l2': float(v.norm())}
        ref = {'about': 'written by tests/oracle/keras_reference.py; inputs: hashed_inputs(case, H*W*C)',
               'cases': CASES, 'input': inp_name, 'input_shape': [h, w, c], 'target': target,
               'logits_node': logits_name, 'output_node': out_name,
               'logits': logits.detach().numpy().tolist(), 'probs': probs.detach().numpy().tolist(), 'layers': stats}
        with open(os.path.join(folder, 'reference.json'), 'w') as f:
            json.dump(ref, f, indent=1)
            f.write('\n')
        print('%s: %d layers, probs case 0 %s, |grad_logit| %.3g' %
              (model_name, len(layers), np.round(probs[0].detach().numpy(), 4), float(grads['logit'].norm())))


if __name__ == '__main__':
    main()
