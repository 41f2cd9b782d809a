// Activation helpers shared by every kernel set, and the registry of compiled sets.
#include "core/kernels/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/base/thread_pool.h"
#ifdef CNNLENS_HAVE_XNNPACK
#include "core/kernels/xnnpack/xnnpack.h"
#endif

namespace cnnlens {

#ifdef CNNLENS_HAVE_XNNPACK
const KernelSet& xnnpack_kernels();
#endif
#ifdef CNNLENS_HAVE_SIMD
const KernelSet& simd_kernels();
#endif

std::string_view activation_name(Activation a) {
    switch (a) {
        case Activation::kNone: return "none";
        case Activation::kRelu: return "Relu";
        case Activation::kRelu6: return "Relu6";
        case Activation::kElu: return "Elu";
        case Activation::kLeakyRelu: return "LeakyRelu";
        case Activation::kSigmoid: return "Sigmoid";
        case Activation::kTanh: return "Tanh";
    }
    return "?";
}

void apply_activation(Activation a, float alpha, float* d, int64_t n) {
    switch (a) {
        case Activation::kNone: return;
        case Activation::kRelu: for (int64_t i = 0; i < n; ++i) d[i] = d[i] > 0.f ? d[i] : 0.f; return;
        case Activation::kRelu6: for (int64_t i = 0; i < n; ++i) d[i] = std::min(std::max(d[i], 0.f), 6.f); return;
        case Activation::kElu: for (int64_t i = 0; i < n; ++i) d[i] = d[i] > 0.f ? d[i] : std::expm1(d[i]); return;
        case Activation::kLeakyRelu: for (int64_t i = 0; i < n; ++i) d[i] = d[i] > 0.f ? d[i] : alpha * d[i]; return;
        case Activation::kSigmoid: for (int64_t i = 0; i < n; ++i) d[i] = 1.f / (1.f + std::exp(-d[i])); return;
        case Activation::kTanh: for (int64_t i = 0; i < n; ++i) d[i] = std::tanh(d[i]); return;
    }
}

namespace {
std::vector<const KernelSet*> build_list() {
    std::vector<const KernelSet*> v;
#ifdef CNNLENS_HAVE_XNNPACK
    v.push_back(&xnnpack_kernels());
#endif
#ifdef CNNLENS_HAVE_SIMD
    v.push_back(&simd_kernels());
#endif
    v.push_back(&reference_kernels());
    return v;
}
}  // namespace

std::span<const KernelSet* const> compiled_kernel_sets() {
    static const std::vector<const KernelSet*> list = build_list();
    return list;
}

const KernelSet* find_kernel_set(std::string_view name) {
    for (const KernelSet* k : compiled_kernel_sets())
        if (k->name == name) return k;
    return nullptr;
}

const KernelSet* select_kernel_set(std::string_view requested) {
    if (requested.empty()) {
        const char* env = std::getenv("CNNLENS_KERNELS");
        if (env && *env) requested = env;
    }
    if (requested.empty()) return compiled_kernel_sets().front();
    return find_kernel_set(requested);
}

std::string kernel_set_names() {
    std::string s;
    for (const KernelSet* k : compiled_kernel_sets()) {
        if (!s.empty()) s += ", ";
        s += k->name;
    }
    return s;
}

void set_kernel_threads(int n) {
    set_pool_threads(n);
#ifdef CNNLENS_HAVE_XNNPACK
    if (pool_threads() != xnnpack_threads()) set_xnnpack_threads(pool_threads());
#endif
}

int kernel_threads() { return pool_threads(); }

void park_kernel_threads() {
#ifdef CNNLENS_HAVE_XNNPACK
    park_xnnpack_threads();
#endif
}

}  // namespace cnnlens
