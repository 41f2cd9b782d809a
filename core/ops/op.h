// Operators of the engine's graph IR: their typed attributes and the OpDef contract.
//
// Every op has, in one file: shape inference, a forward pass and a hand-written
// vector-Jacobian product (VJP) for its non-constant inputs. We need gradients with respect
// to the input image and to activations, never with respect to weights.
//
// Tensors are float32; images and activations are NHWC with the batch as dimension 0.
// Constants (weights) carry no batch dimension.
#pragma once
#include <cmath>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/base/memory.h"
#include "core/base/status.h"
#include "core/kernels/kernels.h"
#include "core/tensor/tensor.h"

namespace cnnlens {

enum class OpType {
#define X(name) k##name,
#include "core/ops/op_list.inc"
#undef X
};
constexpr int kOpCount = 0
#define X(name) +1
#include "core/ops/op_list.inc"
#undef X
    ;

std::string_view op_name(OpType t);
// The OpType named `name` ("Conv2D"), if any.
bool op_from_name(std::string_view name, OpType& out);

// How ReLU-family ops (Relu, Relu6 and fused ReLUs) pass gradients backwards.
//   kStandard:  g * [x > 0]                        (the true gradient)
//   kGuided:    g * [x > 0] * [g > 0]              (Springenberg et al., Guided Backprop)
//   kDeconvnet: g * [g > 0]                        (Zeiler & Fergus)
enum class ReluRule { kStandard, kGuided, kDeconvnet };

// How a convolution or fully connected layer rounds on the tape (a forward pass a backward pass
// may follow): kExact sums each dot product in double and rounds once (ConvKernel::forward_tape);
// kUniform sums in float with the same rounding at every output position
// (ConvKernel::forward_uniform), so a later max pool sees ties where exact arithmetic has them;
// kFastest runs the layer's fastest pass whose sums round as float32 ones do
// (ConvKernel::forward_float_tape: Winograd F(2x2)'s rounding depends on the position).
enum class TapeRounding : uint8_t { kExact, kUniform, kFastest };

// One rule of Layer-wise Relevance Propagation for an op with weights (Conv2D, ConvTranspose,
// MatMul), as Zennit defines it (rules.py; Bach et al. 2015, Montavon et al. 2017/2019). With
// z_j = sum_i x_i w_ij + b_j and s = R_out / stab(z'), where stab(z) = z + eps * sign(z) (sign 0
// counted as +1):
//   kEpsilon:   z' = W x + b, stab with `epsilon`;            R_in = x * W^T s
//   kGamma:     W + gamma W+ on x+ and W + gamma W- on x- (bias + gamma b+ on the first only)
//               where z > 0, the two swapped where z < 0;  R_in = sum of x_k * W_k^T s
//   kAlphaBeta: alpha * (the z+ share) - beta * (the z- share), each as in kZPlus;
//               alpha = 1, beta = 0 is z+ (Zennit's ZPlus: W+ on x+ plus W- on x-, bias b+)
//   kFlat:      W = 1, no bias, x = 1;                          R_in = 1^T s
//   kWSquare:   W^2 (bias b^2), x = 1;                          R_in = (W^2)^T s
//   kZBox:      z' = W x - W+ low - W- high (per input channel); R_in = x*W^T s - low*W+^T s -
//   high*W-^T s
// Rules other than kEpsilon stabilise with kLrpStabilizer, as Zennit's do.
struct LrpRule {
    enum class Kind { kEpsilon, kGamma, kAlphaBeta, kFlat, kWSquare, kZBox };
    Kind kind = Kind::kEpsilon;
    float epsilon = 1e-6f;
    float gamma = 0.25f;
    float alpha = 1.f, beta = 0.f;
    std::vector<float> low, high;  // kZBox: the input's bounds, one value per input channel
};
inline constexpr float kLrpStabilizer = 1e-6f;

// Explicit padding, or TensorFlow's SAME / VALID rules resolved at shape inference.
enum class PaddingMode { kExplicit, kSame, kValid };

// Attributes of ops that have none. BatchNorm is one: inputs x, scale [C], shift [C] (Const),
// y = x * scale + shift over the last axis.
struct NoAttrs {};

// Conv2D inputs: x [N,H,W,Cin], weights [KH,KW,Cin/groups,Cout] (Const), optional bias
// [Cout] (Const). groups == Cin makes it a depthwise convolution.
struct ConvAttrs {
    int stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    PaddingMode padding = PaddingMode::kValid;
    int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;  // kExplicit only
    int groups = 1;
    Activation activation = Activation::kNone;
    float alpha = 0.f;
};

// ConvTranspose inputs: x [N,H,W,Cin], weights [KH,KW,Cout/groups,Cin] (Const; the layout of the
// Conv2D whose input-gradient this op is, so every kernel set's conv runs it), optional bias
// [Cout]. Output size: (in - 1) * stride - pad_begin - pad_end + (k - 1) * dilation + 1 +
// output_padding, per spatial axis (ONNX's ConvTranspose).
struct ConvTransposeAttrs {
    int stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int output_padding_h = 0, output_padding_w = 0;
    int groups = 1;
};

// Window element (ky, kx) of output (y, x) reads input (y * stride_h - pad_top + ky * dilation_h,
// ...).
struct PoolAttrs {
    int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
    PaddingMode padding = PaddingMode::kValid;
    int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int dilation_h = 1, dilation_w = 1;
};

// MatMul inputs: a [N,...,K], b [K,M] (Const; transposes are applied at import), optional bias
// [M]; the output is a with its last axis replaced by M (every leading index is one row).
struct MatMulAttrs {
    Activation activation = Activation::kNone;
    float alpha = 0.f;
};

struct LeakyReluAttrs {
    float alpha = 0.2f;
};
struct EluAttrs {
    float alpha = 1.f;
};
// Selu: gamma * (x > 0 ? x : alpha * (exp(x) - 1)).
struct SeluAttrs {
    float alpha = 1.67326319217681884765625f;
    float gamma = 1.05070102214813232421875f;
};
// Clip: min(max(x, lo), hi).
struct ClipAttrs {
    float lo = -INFINITY;
    float hi = INFINITY;
};
// HardSigmoid: max(0, min(1, alpha * x + beta)); HardSwish is x * HardSigmoid(x) with 1/6, 1/2.
// (Silu, x * Sigmoid(x), has no attributes.)
struct HardSigmoidAttrs {
    float alpha = 0.2f;
    float beta = 0.5f;
};
// Transpose: output axis i is input axis perm[i]; perm[0] must be 0 (the batch stays first).
struct TransposeAttrs {
    std::vector<int> perm;
};

// Mean over `axes` (normalized, ascending). The batch axis may not be reduced.
struct ReduceAttrs {
    std::vector<int> axes;
    bool keep_dims = false;
};

// Reshape target; -1 in position 0 stands for the batch, -1 elsewhere is inferred.
struct ReshapeAttrs {
    std::vector<int64_t> shape;
};
struct SqueezeAttrs {
    std::vector<int> axes;
};  // empty: every size-1 axis except the batch
struct ExpandDimsAttrs {
    int axis = 0;
};
struct ConcatAttrs {
    int axis = -1;
};
// Padding per dimension (before, after); paddings.size() == rank. kConstant fills with `value`;
// kReflect mirrors without repeating the edge (ONNX/PyTorch 'reflect': pad < size); kEdge repeats
// the edge element.
enum class PadMode { kConstant, kReflect, kEdge };
struct PadAttrs {
    std::vector<std::pair<int64_t, int64_t>> paddings;
    float value = 0.f;
    PadMode mode = PadMode::kConstant;
};
// Slice: per listed axis, elements start, start + step, ... before end (ONNX Slice semantics:
// negative starts/ends count from the end, then clamp). The batch axis may not be sliced.
struct SliceAttrs {
    std::vector<int> axes;
    std::vector<int64_t> starts, ends, steps;
};
// Pow with a constant exponent: y = x^exponent (x > 0 unless the exponent is an integer).
struct PowAttrs {
    float exponent = 2.f;
};
// LayerNorm inputs: x, scale, bias (Const, the shape of the normalized trailing axes):
// y = (x - mean) / sqrt(var + epsilon) * scale + bias over the last `axes` axes.
struct LayerNormAttrs {
    int axes = 1;
    float epsilon = 1e-5f;
};
// Resize of an NHWC tensor to out_h x out_w (ONNX Resize / Upsample on the spatial axes).
// Source coordinate of output pixel x (scale = out / in, per axis):
//   kHalfPixel:        (x + 0.5) / scale - 0.5
//   kPytorchHalfPixel: same, but 0 when the output has length 1
//   kAlignCorners:     x * (in - 1) / (out - 1)   (0 when out == 1; out is in * scale when
//                      a scale is given, as ONNX measures it)
//   kAsymmetric:       x / scale
//   kTfHalfPixelForNn: (x + 0.5) / scale
//   kTfCropAndResize:  roi0 * (in - 1) + x * (roi1 - roi0) * (in - 1) / (out - 1), or
//                      (roi0 + roi1) / 2 * (in - 1) when out == 1 (TensorFlow's crop_and_resize:
//                      the box [roi0, roi1] of the axis, in units of its length, sampled at out
//                      points); an output whose source lies outside [0, in - 1] on either axis
//                      is `extrapolation`, a constant
// kNearest rounds it per nearest_mode; kLinear interpolates bilinearly (clamped to the edge);
// kCubic weights the 4 nearest inputs per axis with Keys' cubic of parameter cubic_a (inputs
// beyond the edge repeat it, or with exclude_outside get weight 0 and the rest is
// renormalized), as ONNX's reference does.
enum class ResizeMode { kNearest, kLinear, kCubic };
enum class ResizeCoord {
    kHalfPixel,
    kPytorchHalfPixel,
    kAlignCorners,
    kAsymmetric,
    kTfHalfPixelForNn,
    kTfCropAndResize
};
enum class NearestRound { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
struct ResizeAttrs {
    ResizeMode mode = ResizeMode::kNearest;
    ResizeCoord coord = ResizeCoord::kHalfPixel;
    NearestRound nearest = NearestRound::kRoundPreferFloor;
    int out_h = 1, out_w = 1;
    float scale_h = 0.f, scale_w = 0.f;  // when > 0, used instead of out / in (ONNX 'scales')
    float cubic_a = -0.75f;
    bool exclude_outside = false;
    // kTfCropAndResize only: the box per axis (ONNX's roi) and the value outside the image.
    float roi_h0 = 0.f, roi_h1 = 1.f, roi_w0 = 0.f, roi_w1 = 1.f;
    float extrapolation = 0.f;
};
struct SoftmaxAttrs {
    int axis = -1;
};

using OpAttrs =
    std::variant<NoAttrs, ConvAttrs, PoolAttrs, MatMulAttrs, LeakyReluAttrs, EluAttrs, ReduceAttrs,
                 ReshapeAttrs, SqueezeAttrs, ExpandDimsAttrs, ConcatAttrs, PadAttrs, SoftmaxAttrs,
                 ConvTransposeAttrs, SeluAttrs, ClipAttrs, HardSigmoidAttrs, TransposeAttrs,
                 SliceAttrs, PowAttrs, LayerNormAttrs, ResizeAttrs>;

// Per-node state an op keeps between calls: prepared kernels and scratch buffers.
struct OpState {
    std::unique_ptr<ConvKernel> conv;
    std::unique_ptr<PoolKernel> pool;
    std::unique_ptr<DenseKernel> dense;
    Tensor scratch;
    Shape prepared_for;  // input shape (batch 1) the kernels were prepared for
    // MaxPool: where each output's gradient goes, recorded by the last forward when `tape`.
    memory::CountedVector<int32_t> argmax;
    bool argmax_valid = false;
    // LRP rules of ops with weights: the modified weights of the last rule and one state per
    // modified forward (kernels are prepared for a weight buffer), kept across calls.
    std::vector<Tensor> lrp_params;
    std::vector<OpState> lrp_states;
    std::vector<Tensor> lrp_scratch;  // per-call buffers, kept so a sweep does not fault pages in
    std::string lrp_key;              // the rule they were made for
    // DeepLIFT through a fused activation: the state of the op without it (its own kernels).
    std::vector<OpState> deeplift_plain;
};

// Everything an op sees when it runs. inputs[i] is the forward value of input i (for Const
// inputs, the constant). node_name is used in error messages.
struct OpContext {
    std::string_view node_name;
    const OpAttrs& attrs;
    std::span<const Tensor* const> inputs;
    std::span<const bool> input_is_const;
    const KernelSet& kernels;
    OpState& state;
    // In a VJP: the output gradient's own buffer when nothing reads it after this VJP, so the
    // op may overwrite it (e.g. apply its activation's derivative in place); else null.
    float* spent_grad = nullptr;
    // In a forward pass: a backward pass may follow (the executor keeps the whole tape), so ops
    // may record what their VJP needs (MaxPool's argmax).
    bool tape = false;
    // On the tape, how layers with weights round their dot products (Executor's TapePrecision).
    TapeRounding rounding = TapeRounding::kExact;
};

// What an op's VJP reads of the forward pass besides the output gradient, so a forward pass made
// for backward() alone keeps only those values (shapes are always kept).
enum VjpReads : uint8_t { kReadsNothing = 0, kReadsOutput = 1, kReadsInputs = 2 };

struct OpDef {
    std::string_view name;
    // Output shape from the input shapes; fails with a message naming the node and the value.
    Status (*infer_shape)(std::string_view node_name, const OpAttrs&, std::span<const Shape> inputs,
                          Shape& out);
    // Computes out (already shaped by infer_shape).
    void (*forward)(OpContext&, Tensor& out);
    // grad_in[i] += J_i^T grad_out for every i with grad_in[i] != nullptr (never for Const
    // inputs); accumulate[i] == false means grad_in[i] holds garbage and must be overwritten.
    // `out` is the kept forward result.
    void (*vjp)(OpContext&, const Tensor& out, const Tensor& grad_out,
                std::span<Tensor* const> grad_in, std::span<const bool> accumulate, ReluRule rule);
    // LRP: r_in[i] = the relevance of input i given `r`, the relevance of the output (shaped like
    // it), for every i with r_in[i] != nullptr; accumulate as in vjp. Ops with weights apply
    // `rule`, the others have one fixed rule (pass-through, routing like the VJP, or the
    // proportional split x_i * d z / d x_i * R / z of a sum). nullptr: the op has no LRP rule and
    // a model whose relevance path crosses it is refused; an op whose rule holds only for some
    // inputs (Mul by a constant) returns an error for the others.
    Status (*lrp)(OpContext&, const Tensor& out, const Tensor& r, std::span<Tensor* const> r_in,
                  std::span<const bool> accumulate, const LrpRule& rule);
    // DeepLIFT's multipliers (Shrikumar et al. 2017, rescale rule). The batch pairs each input
    // with its reference: rows [0, n) of every input and of `out` are the inputs' forward pass,
    // rows [n, 2n) the references'. m_in[i] = the multipliers of input i's rows [0, n) given `m`,
    // the output's (rows [n, 2n) of m are zero and those of m_in are written zero), for every i
    // with m_in[i] != nullptr; accumulate as in vjp. Linear ops pass m through their VJP;
    // element-wise nonlinear ones scale it by (f(x) - f(x0)) / (x - x0), the derivative where
    // |x - x0| < kDeepLiftEpsilon; MaxPool splits its output's difference between the winners at
    // the input and at the reference (Captum's rule). nullptr: the op has no rule (Softmax,
    // LayerNorm, attention) and a model whose path crosses it is refused; an op whose rule holds
    // only for some inputs (Mul by a constant) returns an error for the others.
    Status (*deeplift)(OpContext&, const Tensor& out, const Tensor& m,
                       std::span<Tensor* const> m_in, std::span<const bool> accumulate) = nullptr;
    // What vjp reads (a VjpReads mask) for a node with these attributes: `out`, and/or the data
    // of its non-constant inputs. nullptr: both. LRP and DeepLIFT always get the whole tape.
    uint8_t (*vjp_reads)(const OpAttrs&) = nullptr;
};

const OpDef& op_def(OpType t);

// OpDef::vjp_reads for ops whose VJP reads the same whatever their attributes.
inline uint8_t vjp_reads_nothing(const OpAttrs&) { return kReadsNothing; }
inline uint8_t vjp_reads_output(const OpAttrs&) { return kReadsOutput; }
inline uint8_t vjp_reads_inputs(const OpAttrs&) { return kReadsInputs; }

// --- Helpers shared by op implementations -------------------------------------------------

// SAME/VALID/explicit padding along one axis: output size and the (before, after) pads.
// Returns false when the window does not fit (output would be < 1).
bool resolve_padding(PaddingMode mode, int in, int kernel, int stride, int dilation,
                     int explicit_before, int explicit_after, int& out, int& before, int& after);

// grad_pre = grad_out * activation'(out) with the ReLU rule, for activations whose derivative
// can be computed from their output. Writes n values.
void activation_backward(Activation a, float alpha, ReluRule rule, const float* out,
                         const float* grad_out, float* grad_pre, int64_t n);
// The gradient before a fused activation (a Conv2D's or MatMul's), from the gradient `g` of the
// op's output `out`: `g` itself when there is no activation, else the derivative applied in
// place when the executor allows it (c.spent_grad), or into the op's scratch.
const float* fused_activation_grad(OpContext& c, Activation a, float alpha, ReluRule rule,
                                   const Tensor& out, const Tensor& g);

// dst = src (accumulate false) or dst += src.
void store_or_add(float* dst, const float* src, int64_t n, bool accumulate);

// --- LRP rules shared by ops ------------------------------------------------------------------

using VjpFn = void (*)(OpContext&, const Tensor&, const Tensor&, std::span<Tensor* const>,
                       std::span<const bool>, ReluRule);
using ForwardFn = void (*)(OpContext&, Tensor&);

// Element-wise activations: relevance passes through unchanged (Zennit's Pass).
Status lrp_pass(OpContext&, const Tensor& out, const Tensor& r, std::span<Tensor* const> r_in,
                std::span<const bool> accumulate, const LrpRule&);
// The proportional split of a sum (Zennit's Norm): s = r / stab(out), r_in[i] = x_i * vjp_i(s),
// so each input keeps its share x_i dz/dx_i of z and constants (a bias) absorb theirs. For ops
// that are linear in each input with the others fixed: Add, Sub, AvgPool, Mean, BatchNorm.
Status lrp_split(OpContext& c, VjpFn vjp, const Tensor& out, const Tensor& r,
                 std::span<Tensor* const> r_in, std::span<const bool> accumulate);
// An op with weights (inputs x, W and optionally b, constants) under `rule`: the op's own
// forward and VJP run with modified x, W and b. `plain` is the op's attributes with any fused
// activation removed (relevance passes through it).
Status lrp_weighted(OpContext& c, const OpAttrs& plain, ForwardFn forward, VjpFn vjp,
                    const Tensor& r, Tensor& r_in, bool accumulate, const LrpRule& rule);

// Layout ops (Reshape, Transpose, Concat, Slice, Pad, ...) and MaxPool (winner takes all, the
// gradient's routing, as Zennit leaves it): relevance goes where the VJP sends the gradient.
template <VjpFn kVjp>
Status lrp_route(OpContext& c, const Tensor& out, const Tensor& r, std::span<Tensor* const> r_in,
                 std::span<const bool> accumulate, const LrpRule&) {
    kVjp(c, out, r, r_in, accumulate, ReluRule::kStandard);
    return Status::ok();
}
template <VjpFn kVjp>
Status lrp_split(OpContext& c, const Tensor& out, const Tensor& r, std::span<Tensor* const> r_in,
                 std::span<const bool> accumulate, const LrpRule&) {
    return lrp_split(c, kVjp, out, r, r_in, accumulate);
}

// --- DeepLIFT rules shared by ops (OpDef::deeplift) ------------------------------------------

// Below this |x - x0| the rescale rule's ratio is replaced by the derivative (Captum's eps is
// 1e-10 on float64; float32 differences this small are mostly rounding).
inline constexpr float kDeepLiftEpsilon = 1e-6f;

// Linear (or affine) ops: the multipliers are the VJP of m.
template <VjpFn kVjp>
Status deeplift_linear(OpContext& c, const Tensor& out, const Tensor& m,
                       std::span<Tensor* const> m_in, std::span<const bool> accumulate) {
    kVjp(c, out, m, m_in, accumulate, ReluRule::kStandard);
    return Status::ok();
}
// The rescale rule of an element-wise op y = f(x) of one input, its derivative given by `vjp`.
Status deeplift_rescale(OpContext& c, VjpFn vjp, const Tensor& out, const Tensor& m, Tensor& m_in,
                        bool accumulate);
template <VjpFn kVjp>
Status deeplift_rescale(OpContext& c, const Tensor& out, const Tensor& m,
                        std::span<Tensor* const> m_in, std::span<const bool> accumulate) {
    if (!m_in[0]) return Status::ok();
    return deeplift_rescale(c, kVjp, out, m, *m_in[0], accumulate[0]);
}
// An op with a fused activation (Conv2D, MatMul): the rescale rule through the activation, its
// pre-activation values recomputed by `forward` with `plain` (the attributes without it) for the
// input and the reference, then `vjp` of the plain op.
Status deeplift_fused(OpContext& c, const OpAttrs& plain, ForwardFn forward, VjpFn vjp,
                      Activation a, float alpha, const Tensor& out, const Tensor& m, Tensor& m_in,
                      bool accumulate);

}  // namespace cnnlens
