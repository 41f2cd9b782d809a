// Kernel sets: the few hot loops of the engine (convolution, pooling, dense layers), behind
// one interface so that ops never branch on a backend. A set is chosen once per session
// (select_kernel_set) and every set is complete: `reference` is the oracle, `simd` is our own
// 128-bit SIMD code (SSE/AVX natively, wasm SIMD128 in the browser), `xnnpack` uses Debian's
// libXNNPACK (native only).
//
// Kernels are prepared once per graph node (weights packed, operators created) and then run
// on any batch size. Every buffer is NHWC float32. Backward entries compute input gradients
// only: the engine never needs weight gradients.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cnnlens {

// Element-wise activations that may be fused into a convolution or dense layer.
enum class Activation { kNone, kRelu, kRelu6, kElu, kLeakyRelu, kSigmoid, kTanh };
std::string_view activation_name(Activation a);
// Applies `a` in place to n values (alpha is LeakyRelu's negative slope).
void apply_activation(Activation a, float alpha, float* data, int64_t n);
// dst = a(src) (dst may be src), in one pass: an activation layer without a copy of its input.
void apply_activation(Activation a, float alpha, const float* src, float* dst, int64_t n);
// y = 1 / (1 + exp(-x)) within 2 ulp of the exact value where that is a normal float (below, a
// value under 2e-38), NaN for NaN; vectorized; y may be x.
void sigmoid(const float* x, float* y, int64_t n);

// A 2-D convolution, possibly grouped (groups == in_c and out_c == in_c * m is depthwise).
// Weights: [kernel_h][kernel_w][in_c / groups][out_c] (TensorFlow's HWIO; for depthwise the
// flattening of TF's [kh][kw][C][m], so output channel c*m+j reads input channel c).
// Output element (y, x) reads input (y*stride_h - pad_top + ky*dilation_h, ...).
struct ConvDesc {
    int in_h = 0, in_w = 0, in_c = 0;
    int out_h = 0, out_w = 0, out_c = 0;
    int kernel_h = 1, kernel_w = 1;
    int stride_h = 1, stride_w = 1;
    int dilation_h = 1, dilation_w = 1;
    int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int groups = 1;
    Activation activation = Activation::kNone;
    float alpha = 0.f;  // LeakyRelu slope

    bool is_depthwise() const { return groups > 1 && groups == in_c; }
    int64_t flops_per_image() const {
        return 2LL * out_h * out_w * out_c * kernel_h * kernel_w * (in_c / groups);
    }
};

class ConvKernel {
public:
    virtual ~ConvKernel() = default;
    // out[batch, out_h, out_w, out_c] = activation(conv(in) + bias).
    virtual void forward(const float* in, float* out, int batch) = 0;
    // The same, for a pass a backward pass may follow (the executor's tape). Its rounding must
    // not depend on the output position: identical input windows give identical outputs, so
    // that ties a later max pool sees in exact arithmetic stay ties and the gradient goes where
    // PyTorch's float64 gradient sends it. Fast paths that round by position (Winograd's
    // tiles) run their GEMM equivalent here. The simd set also sums in double here: a ReLU
    // within float32 rounding of 0 (a few in a 224x224 ResNet) otherwise decides by noise.
    virtual void forward_tape(const float* in, float* out, int batch) { forward(in, out, batch); }
    // The same as forward(), in float, but with forward_tape's position rule: a float32 tape
    // (TapePrecision::kFloat) runs this for the layers that a later max pool reads, and the
    // fastest path, forward(), for the others.
    virtual void forward_uniform(const float* in, float* out, int batch) {
        forward(in, out, batch);
    }
    // A float32 tape's pass for the other layers: forward(), unless that rounds more coarsely
    // than float32 sums do (Winograd F(4x4)'s transforms hold 4, 5 and 8), which would move
    // ReLU decisions near 0 and with them the gradient; such a path runs a finer one here.
    virtual void forward_float_tape(const float* in, float* out, int batch) {
        forward(in, out, batch);
    }
    // grad_in (+)= conv_transpose(grad_pre): grad_pre is the gradient with respect to the
    // convolution's output BEFORE the activation (the op applies the activation's derivative).
    // accumulate == false overwrites grad_in.
    virtual void backward_input(const float* grad_pre, float* grad_in, int batch,
                                bool accumulate) = 0;
};

enum class PoolKind { kMax, kAvg };

// 2-D pooling over each channel. Average pooling divides by the number of in-bounds
// elements (TensorFlow's SAME convention: padding is not counted). Window element (ky, kx) of
// output (y, x) reads input (y*stride_h - pad_top + ky*dilation_h, ...); sets that have no
// dilated pooling of their own use the reference set's.
struct PoolDesc {
    PoolKind kind = PoolKind::kMax;
    int in_h = 0, in_w = 0, channels = 0;
    int out_h = 0, out_w = 0;
    int kernel_h = 1, kernel_w = 1;
    int stride_h = 1, stride_w = 1;
    int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
    int dilation_h = 1, dilation_w = 1;

    bool is_dilated() const { return dilation_h != 1 || dilation_w != 1; }
};

class PoolKernel {
public:
    virtual ~PoolKernel() = default;
    virtual void forward(const float* in, float* out, int batch) = 0;
    // grad_in (+)= pool^T(grad_out). Max pooling routes each output's gradient to the first
    // maximal input of its window in row-major scan order; `in` is the forward input.
    virtual void backward_input(const float* in, const float* grad_out, float* grad_in, int batch,
                                bool accumulate) = 0;

    // Max pooling only: forward() that also stores, per output element, where in its window
    // (ky * kernel_w + kx, -1 for a window wholly in the padding) the input element lies that
    // backward_input() would route its gradient to, so the backward pass becomes one scatter
    // (backward_argmax). The default runs forward() and then the scalar search; sets override
    // it with a fused loop.
    virtual void forward_argmax(const float* in, float* out, int32_t* argmax, int batch);
    // grad_in (+)= grad_out routed through argmax from forward_argmax() on the same input.
    virtual void backward_argmax(const int32_t* argmax, const float* grad_out, float* grad_in,
                                 int batch, bool accumulate);
    const PoolDesc& desc() const { return desc_; }

protected:
    explicit PoolKernel(const PoolDesc& d) : desc_(d) {}

private:
    PoolDesc desc_;
};

// out[batch, out_features] = activation(in[batch, in_features] x weights + bias),
// weights [in_features][out_features].
struct DenseDesc {
    int in_features = 0, out_features = 0;
    Activation activation = Activation::kNone;
    float alpha = 0.f;
};

class DenseKernel {
public:
    virtual ~DenseKernel() = default;
    virtual void forward(const float* in, float* out, int batch) = 0;
    // The same, for a pass a backward pass may follow (see ConvKernel::forward_tape).
    virtual void forward_tape(const float* in, float* out, int batch) { forward(in, out, batch); }
    // grad_in (+)= grad_pre x weights^T (grad_pre: gradient before the activation).
    virtual void backward_input(const float* grad_pre, float* grad_in, int batch,
                                bool accumulate) = 0;
};

// One complete kernel set. Factories copy (or pack) the weights they are given, some only when a
// path (the fast forward, the tape's forward, the backward) is first used: the weights and bias
// must stay valid and unchanged while the kernel lives (the graph's constants do). bias may be
// null (no bias).
struct KernelSet {
    std::string_view name;
    std::unique_ptr<ConvKernel> (*make_conv)(const ConvDesc&, const float* weights,
                                             const float* bias);
    std::unique_ptr<PoolKernel> (*make_pool)(const PoolDesc&);
    std::unique_ptr<DenseKernel> (*make_dense)(const DenseDesc&, const float* weights,
                                               const float* bias);
    // The Sigmoid and Silu ops' y = 1 / (1 + exp(-x)) (sigmoid() above, or a set's own copy
    // within the same 3 ulp). Each element's result depends on its value only, never on where
    // it sits in x: loops split tensors by thread count.
    void (*sigmoid)(const float* x, float* y, int64_t n);
};

// Every set compiled into this build, best first: "xnnpack", "simd", "reference"; on a CPU
// with AVX-512 "simd" (its AVX-512 copy), "xnnpack", "simd-avx2" (the AVX2 copy), "reference";
// in a wasm module with relaxed SIMD "simd-fma", "simd", "reference".
std::span<const KernelSet* const> compiled_kernel_sets();
// The set named `name`, or null.
const KernelSet* find_kernel_set(std::string_view name);
// The session's choice: `requested` if non-empty, else the CNNLENS_KERNELS environment
// variable, else the best compiled set. Null when the requested name is not compiled in.
const KernelSet* select_kernel_set(std::string_view requested = {});
// "xnnpack, simd, reference"
std::string kernel_set_names();

const KernelSet& reference_kernels();

// Threads every kernel set may use for one kernel call, the caller included: sizes the shared
// pool of core/base/thread_pool.h (the simd set) and the xnnpack set's pthreadpool. 1 by
// default; clamped to what the build has (1 in the single-threaded wasm build). Results do not
// depend on it. Call only while no kernel runs.
void set_kernel_threads(int n);
int kernel_threads();
// Sends threads that kernel sets keep spinning between calls (the xnnpack set's pthreadpool
// spins for a while after each operator) to sleep. Call before running kernels on several
// threads of our own pool, whose threads would otherwise share the cores with the spinners:
// natively on 2 cores that cost SmoothGrad a fifth of its time.
void park_kernel_threads();

}  // namespace cnnlens
