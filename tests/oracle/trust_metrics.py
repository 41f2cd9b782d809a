"""Independent float64 numpy reference for the trust metrics of core/eval (complexity, faithfulness,
robustness), written from the papers and Quantus's definitions (see each function), not from the C++.
It draws a small fixture (a linear 3-class model on a 6x6x3 input, an image, a signed map, random pixel
subsets and noise samples) and writes it with the expected values to tests/data/eval/trust_fixture.txt,
which tests/eval/trust_oracle_test.cpp reads. Run from the repo root with Debian's python3 (numpy):
/usr/bin/python3 tests/oracle/trust_metrics.py"""
import numpy as np

OUT = 'tests/data/eval/trust_fixture.txt'
H, W, C, K = 6, 6, 3, 3
CLS = 1
STEPS = 6             # deletion / insertion curve points: STEPS + 1
RUNS, SUBSET = 20, 9  # faithfulness correlation
SAMPLES, RADIUS = 5, 0.2  # sensitivity; the input range is [0, 1]


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def logits(x, w, b):
    """The fixture's model: logits = W x + b over the flattened HWC input."""
    return w @ x.reshape(-1) + b


def gini(a):
    """Sparseness (Chalasani et al. 2020; Quantus Sparseness without its 1e-7): Gini index of |a|."""
    a = np.sort(np.abs(a.reshape(-1)))
    n = a.size
    i = np.arange(1, n + 1)
    return np.sum((2 * i - n - 1) * a) / (n * np.sum(a))


def entropy(a):
    """Complexity (Bhatt et al. 2020; Quantus Complexity): Shannon entropy of |a| / sum |a|."""
    p = np.abs(a.reshape(-1)) / np.sum(np.abs(a))
    p = p[p > 0]
    return -np.sum(p * np.log(p))


def baseline(x, kind):
    if kind == 'black':
        return np.zeros_like(x)
    return np.broadcast_to(x.reshape(-1, C).mean(axis=0), x.shape).copy()  # per-channel mean


def curve_auc(x, m, w, b, kind, deletion):
    """RISE (Petsiuk et al. 2018) deletion / insertion on the class probability: pixels in order of
    the map, highest first; point k changes the first floor(n k / steps) pixels; trapezoid AUC."""
    n = H * W
    order = np.argsort(-m.reshape(-1), kind='stable')
    base = baseline(x, kind)
    src, dst = (x, base) if deletion else (base, x)
    fr, sc = [], []
    for k in range(STEPS + 1):
        cnt = n * k // STEPS
        cur = src.reshape(n, C).copy()
        cur[order[:cnt]] = dst.reshape(n, C)[order[:cnt]]
        fr.append(cnt / n)
        sc.append(softmax(logits(cur, w, b))[CLS])
    fr, sc = np.array(fr), np.array(sc)
    return np.sum(0.5 * (fr[1:] - fr[:-1]) * (sc[1:] + sc[:-1]))


def faithfulness_correlation(x, m, w, b, subsets, kind):
    """Bhatt et al. 2020 / Quantus FaithfulnessCorrelation: Pearson between the map's sum over a random
    subset and the logit drop when the subset's pixels (all channels) take the baseline."""
    n = H * W
    y = logits(x, w, b)[CLS]
    base = baseline(x, kind).reshape(n, C)
    sums, drops = [], []
    for s in subsets:
        xp = x.reshape(n, C).copy()
        xp[s] = base[s]
        drops.append(y - logits(xp, w, b)[CLS])
        sums.append(m.reshape(-1)[s].sum())
    return np.corrcoef(np.array(sums), np.array(drops))[0, 1]


ROAD_PERCENT = list(range(10, 100, 10))
NEIGHBOURS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
              ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def impute(x, removed):
    """ROAD's linear imputation (Rong et al. 2022, as Quantus's noisy_linear_imputation, noise 0):
    each removed pixel is the weighted mean of its in-image 8 neighbours, solved densely."""
    idx = np.flatnonzero(removed)
    var = -np.ones(H * W, dtype=int)
    var[idx] = np.arange(idx.size)
    a = np.zeros((idx.size, idx.size))
    rhs = np.zeros((idx.size, C))
    flat = x.reshape(H * W, C)
    for i, p in enumerate(idx):
        y, xx = divmod(p, W)
        for (dy, dx), wt in NEIGHBOURS:
            yy, xn = y + dy, xx + dx
            if not (0 <= yy < H and 0 <= xn < W):
                continue
            q = yy * W + xn
            a[i, i] += wt
            if var[q] >= 0:
                a[i, var[q]] -= wt
            else:
                rhs[i] += wt * flat[q]
    out = flat.copy()
    out[idx] = np.linalg.solve(a, rhs)
    return out.reshape(H, W, C)


def road(x, m, w, b):
    """ROAD MoRF / LeRF means over 10..90 %: the class probability after imputing the top (bottom)
    floor(n p / 100) pixels of the map."""
    n = H * W
    flat = m.reshape(-1)
    orders = [np.argsort(-flat, kind='stable'), np.argsort(flat, kind='stable')]
    means = []
    for order in orders:
        probs = []
        for p in ROAD_PERCENT:
            removed = np.zeros(n, dtype=bool)
            removed[order[:n * p // 100]] = True
            probs.append(softmax(logits(impute(x, removed), w, b))[CLS])
        means.append(np.mean(probs))
    return means


def gradient_x_input(x, w):
    """Gradient x Input of the class logit, summed over channels: the gradient of a linear logit is
    its weight row."""
    return (w[CLS].reshape(H, W, C) * x.reshape(H, W, C)).sum(axis=2)


def sensitivities(x, w, noise, denominator):
    """Yeh et al. 2019 max-sensitivity and Bhatt et al. 2020 average sensitivity (Quantus's form):
    ||a(x) - a(x + e)||_F / ||a(x)||_F (or / ||x||_F) over the noise samples."""
    a = gradient_x_input(x, w)
    d = np.linalg.norm(a) if denominator == 'map' else np.linalg.norm(x)
    v = [np.linalg.norm(a - gradient_x_input((x + e).astype(np.float32).astype(np.float64), w)) / d
         for e in noise]
    return max(0.0, max(v)), float(np.mean(v))


INF_SAMPLES, INF_SIGMA = 10, 0.1


def infidelity(x, m, w, b, perturbations):
    """Yeh et al. 2019 infidelity with Captum's normalize=True: E[(beta I.m - (f(x) - f(x - I)))^2],
    beta the least-squares scale of the map; each I is per pixel, the same on every channel."""
    y = logits(x, w, b)[CLS]
    dots, drops = [], []
    for e in perturbations:
        xp = x - e.reshape(H, W, 1)
        drops.append(y - logits(xp, w, b)[CLS])
        dots.append(np.sum(e * m))
    dots, drops = np.array(dots), np.array(drops)
    beta = np.sum(dots * drops) / np.sum(dots * dots)
    return np.mean((beta * dots - drops) ** 2)


RL_SIDE, RL_CLS, RL_OTHER = 12, 0, 2  # random logit: SSIM needs 7x7 windows, so a larger input


def random_logit(x, w):
    """Sixt et al. 2020 random logit with the sanity check's SSIM: skimage's structural_similarity
    (7x7 uniform windows, data range 1) of the two Gradient x Input maps, |map| min-max normalised."""
    from skimage.metrics import structural_similarity

    def norm(c):
        a = np.abs(w[c].reshape(RL_SIDE, RL_SIDE) * x.reshape(RL_SIDE, RL_SIDE))
        return (a - a.min()) / (a.max() - a.min())
    return structural_similarity(norm(RL_CLS), norm(RL_OTHER), win_size=7, data_range=1.0)


def main():
    rng = np.random.default_rng(17)
    f32 = lambda a: np.asarray(a, dtype=np.float32).astype(np.float64)
    w = f32(rng.normal(0, 1, (K, H * W * C)))
    b = f32(rng.normal(0, 1, K))
    x = f32(rng.uniform(0, 1, (H, W, C)))
    m = f32(rng.normal(0, 1, (H, W)))
    rl_w = f32(rng.normal(0, 1, (K, RL_SIDE * RL_SIDE)))
    rl_b = f32(rng.normal(0, 1, K))
    rl_x = f32(rng.uniform(0, 1, (RL_SIDE, RL_SIDE, 1)))
    perturbations = [f32(rng.normal(0, INF_SIGMA, (H, W))) for _ in range(INF_SAMPLES)]
    subsets = [rng.choice(H * W, SUBSET, replace=False) for _ in range(RUNS)]
    noise = [f32(rng.uniform(-RADIUS, RADIUS, (H, W, C))) for _ in range(SAMPLES)]

    expected = {
        'sparseness': gini(m), 'complexity': entropy(m),
        'deletion_auc_black': curve_auc(x, m, w, b, 'black', True),
        'insertion_auc_black': curve_auc(x, m, w, b, 'black', False),
        'deletion_auc_mean': curve_auc(x, m, w, b, 'mean', True),
        'insertion_auc_mean': curve_auc(x, m, w, b, 'mean', False),
        'faithfulness_correlation_black': faithfulness_correlation(x, m, w, b, subsets, 'black'),
        'faithfulness_correlation_mean': faithfulness_correlation(x, m, w, b, subsets, 'mean'),
    }
    expected['road_morf'], expected['road_lerf'] = road(x, m, w, b)
    expected['random_logit'] = random_logit(rl_x, rl_w)
    expected['infidelity'] = infidelity(x, m, w, b, perturbations)
    for den in ('map', 'input'):
        mx, avg = sensitivities(x, w, noise, den)
        expected['max_sensitivity_' + den], expected['avg_sensitivity_' + den] = mx, avg

    def row(name, values):
        values = np.asarray(values).reshape(-1)
        return name + ' ' + str(values.size) + ' ' + ' '.join(repr(float(v)) for v in values) + '\n'

    with open(OUT, 'w') as f:
        f.write('# Written by tests/oracle/trust_metrics.py: name count values...\n')
        f.write(row('dims', [H, W, C, K, CLS, STEPS, RUNS, SUBSET, SAMPLES]))
        f.write(row('weights', w))
        f.write(row('bias', b))
        f.write(row('image', x))
        f.write(row('map', m))
        f.write(row('subsets', np.concatenate(subsets)))
        f.write(row('perturbations', np.concatenate([e.reshape(-1) for e in perturbations])))
        f.write(row('rl_dims', [RL_SIDE, RL_CLS, RL_OTHER]))
        f.write(row('rl_weights', rl_w))
        f.write(row('rl_bias', rl_b))
        f.write(row('rl_image', rl_x))
        f.write(row('noise', np.concatenate([e.reshape(-1) for e in noise])))
        for k, v in expected.items():
            f.write(row('expected_' + k, [v]))
    for k, v in expected.items():
        print(f'{k:34s} {v:.9g}')


if __name__ == '__main__':
    main()
