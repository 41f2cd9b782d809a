// Outside oracle for the engine's tests: runs the emotion model in TF.js (cpu backend) on
// tests/data/oracle/inputs.f32 and writes probabilities, logits and input gradients to --out DIR.
// Run from the repo root: node tests/oracle/tfjs_oracle.mjs --out DIR
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

const MODEL = 'models/fer2013-mini-xception/emotion.json';
const LOGITS = 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean';
const PROBS = 'Identity';
const CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const TARGET = 3;

const outArg = process.argv.indexOf('--out');
if (outArg < 0 || !process.argv[outArg + 1]) throw new Error('usage: node tests/oracle/tfjs_oracle.mjs --out DIR');
const outDir = process.argv[outArg + 1];
fs.mkdirSync(outDir, { recursive: true });

await tf.setBackend('cpu');
await tf.ready();

// Load from disk (no http): the weight files, concatenated in manifest order, are the weight buffer.
const json = JSON.parse(fs.readFileSync(MODEL, 'utf8'));
const dir = path.dirname(MODEL);
const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
const buffers = json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p))));
const bytes = Buffer.concat(buffers);
const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
// The converter fused each convolution with its bias and ReLU (_FusedConv2D). TF.js's fused op
// has an eager custom gradient that also computes the filter's and the bias's gradients, which
// the cpu backend makes the cost of this whole script; as Conv2D + BiasAdd (+ Relu) the same
// arithmetic runs and the backward pass computes only what leads to the input.
const b64s = (s) => Buffer.from(s, 'base64').toString();
const unfused = json.modelTopology.node.flatMap((node) => {
  if (node.op !== '_FusedConv2D') return [node];
  const fused = node.attr.fused_ops.list.s.map(b64s);
  if (fused.some((f) => f !== 'BiasAdd' && f !== 'Relu') || !fused.includes('BiasAdd'))
    throw new Error(`${node.name}: fused ops ${fused} (only BiasAdd and Relu are unfused here)`);
  const { fused_ops, num_args, epsilon, ...convAttr } = node.attr;
  const [x, w, b] = node.input;
  const relu = fused.includes('Relu');
  const conv = { name: `${node.name}/conv`, op: 'Conv2D', input: [x, w], attr: convAttr };
  const bias = { name: relu ? `${node.name}/bias` : node.name, op: 'BiasAdd', input: [conv.name, b],
    attr: { T: node.attr.T, data_format: node.attr.data_format } };
  return relu ? [conv, bias, { name: node.name, op: 'Relu', input: [bias.name], attr: { T: node.attr.T } }] : [conv, bias];
});
const topology = { ...json.modelTopology, node: unfused };
const model = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs, weightData }));

const meta = JSON.parse(fs.readFileSync('tests/data/oracle/inputs.json', 'utf8'));
const { count: N, height: H, width: W, channels: C } = meta;
const raw = fs.readFileSync('tests/data/oracle/inputs.f32');
const inputData = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
if (inputData.length !== N * H * W * C) throw new Error(`inputs.f32 holds ${inputData.length} floats, expected ${N * H * W * C}`);

const forward = (x) => model.execute({ input_1: x }, [LOGITS, PROBS]);
const logit3 = (x) => forward(x)[0].slice([0, TARGET], [-1, 1]).sum();
const prob3 = (x) => forward(x)[1].slice([0, TARGET], [-1, 1]).sum();
const gradLogit3 = tf.grad(logit3);
const gradProb3 = tf.grad(prob3);

// One pass over a batch: [logits, probs, dlogit3/dx, dprob3/dx] as Float32Arrays.
function run(x) {
  return tf.tidy(() => [...forward(x), gradLogit3(x), gradProb3(x)].map((t) => t.dataSync().slice()));
}

const batch = tf.tensor4d(inputData, [N, H, W, C]);
const [logits, probs, gLogit, gProb] = run(batch);

// Each case alone must agree with the batch (images are independent in this network).
const maxDiff = (a, b, off) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[off + i])), 0);
const alone = { logits: 0, probs: 0, grad_logit3: 0, grad_prob3: 0 };
for (let n = 0; n < N; ++n) {
  const x = batch.slice([n, 0, 0, 0], [1, H, W, C]);
  const r = run(x);
  x.dispose();
  const px = H * W * C;
  [['logits', 7], ['probs', 7], ['grad_logit3', px], ['grad_prob3', px]].forEach(([k, size], i) => {
    alone[k] = Math.max(alone[k], maxDiff(r[i], [logits, probs, gLogit, gProb][i], n * size));
  });
}

// Float64 re-evaluation of the same graph, for the finite-difference check only: everything before
// the Mean is piecewise linear, so a float64 central difference with a tiny step is exact away from kinks.
const W64 = Object.fromEntries(Object.entries(tf.io.decodeWeights(weightData, weightSpecs))
  .map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.dataSync()) }]));
const b64 = (a) => Buffer.from(a.s, 'base64').toString();
function conv64(x, w, node, depthwise) {
  const [H, W, C] = x.shape, [kh, kw, , m] = w.shape, co = depthwise ? C * m : m;
  const [, sh, sw] = node.attr.strides.list.i.map(Number), same = b64(node.attr.padding) === 'SAME';
  const oh = same ? Math.ceil(H / sh) : Math.ceil((H - kh + 1) / sh), ow = same ? Math.ceil(W / sw) : Math.ceil((W - kw + 1) / sw);
  const pt = same ? Math.floor(Math.max((oh - 1) * sh + kh - H, 0) / 2) : 0, pl = same ? Math.floor(Math.max((ow - 1) * sw + kw - W, 0) / 2) : 0;
  const y = new Float64Array(oh * ow * co);
  for (let oy = 0; oy < oh; ++oy) for (let ox = 0; ox < ow; ++ox) for (let ky = 0; ky < kh; ++ky) for (let kx = 0; kx < kw; ++kx) {
    const iy = oy * sh + ky - pt, ix = ox * sw + kx - pl;
    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
    const xo = (iy * W + ix) * C, yo = (oy * ow + ox) * co, wo = (ky * kw + kx) * C * m;
    for (let c = 0; c < C; ++c) for (let q = 0; q < m; ++q)
      y[yo + (depthwise ? c * m + q : q)] += x.data[xo + c] * w.data[wo + c * m + q];
  }
  return { shape: [oh, ow, co], data: y };
}
function maxPool64(x, node) {  // SAME padding: padded cells never win
  const [H, W, C] = x.shape, [, k] = node.attr.ksize.list.i.map(Number), [, s] = node.attr.strides.list.i.map(Number);
  const oh = Math.ceil(H / s), ow = Math.ceil(W / s), pt = Math.floor(Math.max((oh - 1) * s + k - H, 0) / 2), pl = Math.floor(Math.max((ow - 1) * s + k - W, 0) / 2);
  const y = new Float64Array(oh * ow * C).fill(-Infinity);
  for (let oy = 0; oy < oh; ++oy) for (let ox = 0; ox < ow; ++ox) for (let iy = oy * s - pt; iy < oy * s - pt + k; ++iy)
    for (let ix = ox * s - pl; ix < ox * s - pl + k; ++ix) if (iy >= 0 && iy < H && ix >= 0 && ix < W)
      for (let c = 0; c < C; ++c) y[(oy * ow + ox) * C + c] = Math.max(y[(oy * ow + ox) * C + c], x.data[(iy * W + ix) * C + c]);
  return { shape: [oh, ow, C], data: y };
}
const map = (x, f) => ({ shape: x.shape, data: x.data.map(f) });
function logits64(image) {  // one image, Float64Array H*W*C -> the 7 logits in float64
  const v = { input_1: { shape: [H, W, C], data: image } };
  for (const node of json.modelTopology.node) {
    const [a, b, c] = (node.input || []).map((n) => v[n] || W64[n]);
    if (node.op === '_FusedConv2D') {
      const y = conv64(a, b, node, false), ops = node.attr.fused_ops.list.s.map((s) => b64({ s })), C2 = y.shape[2];
      if (ops.includes('BiasAdd')) y.data.forEach((t, i) => (y.data[i] = t + c.data[i % C2]));
      v[node.name] = ops.includes('Relu') ? map(y, (t) => Math.max(t, 0)) : y;
    } else if (node.op === 'DepthwiseConv2dNative') v[node.name] = conv64(a, b, node, true);
    else if (node.op === 'MaxPool') v[node.name] = maxPool64(a, node);
    else if (node.op === 'AddV2') v[node.name] = { shape: a.shape, data: a.data.map((t, i) => t + b.data[i]) };
    else if (node.op === 'Relu') v[node.name] = map(a, (t) => Math.max(t, 0));
    else if (node.name === LOGITS) {
      const C2 = a.shape[2], m = new Float64Array(C2);
      a.data.forEach((t, i) => (m[i % C2] += t / (a.data.length / C2)));
      return m;
    } else if (node.op !== 'Placeholder' && node.op !== 'Const') throw new Error(`float64 check: no ${node.op}`);
  }
}

// Central difference of logit3 along a random unit direction vs the tfjs gradient; also float64 vs tfjs logits.
const fdChecks = [];
let logitsF64vsTfjs = 0;
for (let n = 0; n < N; ++n) {
  const px = H * W * C, x = Float64Array.from(inputData.subarray(n * px, (n + 1) * px));
  let seed = 42 + n;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const d = Float64Array.from({ length: px }, rnd), norm = Math.hypot(...d);
  d.forEach((t, i) => (d[i] = t / norm));
  const h = 1e-6, f = (s) => logits64(x.map((t, i) => t + s * d[i]));
  const l0 = f(0);
  l0.forEach((t, k) => (logitsF64vsTfjs = Math.max(logitsF64vsTfjs, Math.abs(t - logits[n * 7 + k]))));
  const [lp, lm] = [f(h), f(-h)];
  const softmax3 = (l) => 1 / l.reduce((s, t) => s + Math.exp(t - l[TARGET]), 0);
  const dot = (g) => g.subarray(n * px, (n + 1) * px).reduce((s, t, i) => s + t * d[i], 0);
  const check = (fd, g) => ({ fd, grad_dot_dir: g, rel_err: Math.abs(fd - g) / Math.max(Math.abs(g), 1e-12) });
  fdChecks.push({ case: n, h, logit3: check((lp[TARGET] - lm[TARGET]) / (2 * h), dot(gLogit)),
    prob3: check((softmax3(lp) - softmax3(lm)) / (2 * h), dot(gProb)) });
}

const files = { probs: 'probs.f32', logits: 'logits.f32', grad_logit3: 'grad_logit3.f32', grad_prob3: 'grad_prob3.f32' };
const write = (name, arr) => fs.writeFileSync(path.join(outDir, name), Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
write(files.probs, probs);
write(files.logits, logits);
write(files.grad_logit3, gLogit);
write(files.grad_prob3, gProb);

const argmax = (n) => { const p = probs.subarray(n * 7, n * 7 + 7); return p.indexOf(Math.max(...p)); };
const oracle = {
  tfjs_version: tf.version.tfjs, backend: tf.getBackend(), model: MODEL, inputs: 'tests/data/oracle/inputs.f32',
  count: N, classes: CLASSES, logits_node: LOGITS, probs_node: PROBS, target_class: TARGET,
  files: {
    probs: { file: files.probs, shape: [N, 7] }, logits: { file: files.logits, shape: [N, 7] },
    grad_logit3: { file: files.grad_logit3, shape: [N, H, W, C], of: `logits[:, ${TARGET}]` },
    grad_prob3: { file: files.grad_prob3, shape: [N, H, W, C], of: `probs[:, ${TARGET}]` },
  },
  gradient_path: 'tf.grad over GraphModel.execute',
  max_abs_diff_alone_vs_batch: alone,
  finite_difference: fdChecks,
  max_abs_diff_logits_float64_vs_tfjs: logitsF64vsTfjs,
  argmax: Array.from({ length: N }, (_, n) => CLASSES[argmax(n)]),
};
fs.writeFileSync(path.join(outDir, 'oracle.json'), JSON.stringify(oracle, null, 1));

const worstFd = Math.max(...fdChecks.map((c) => c.logit3.rel_err));
const worstFdProb = Math.max(...fdChecks.map((c) => c.prob3.rel_err));
console.log(`tfjs ${tf.version.tfjs} ${tf.getBackend()}: ${N} cases -> ${outDir}; alone-vs-batch max diff ` +
  `${Math.max(...Object.values(alone)).toExponential(2)}; float64 finite-difference worst rel err logit3 ${worstFd.toExponential(2)} prob3 ${worstFdProb.toExponential(2)}; ` +
  `float64 logits max diff ${logitsF64vsTfjs.toExponential(2)}`);
console.log(`case 0 (${meta.cases[0].name}): argmax ${argmax(0)} = ${CLASSES[argmax(0)]}, p = ${probs[argmax(0)].toFixed(4)}`);
