// Input (the image batch) and Const (weights and other constants): values supplied by the
// executor, never computed, so their forward and VJP have nothing to do.
#include "core/ops/op.h"

namespace cnnlens {
namespace {
Status no_shape(std::string_view node, const OpAttrs&, std::span<const Shape>, Shape&) {
    return invalid_argument("node '" + std::string(node) +
                            "': Input and Const get their shapes from the graph");
}
void no_forward(OpContext&, Tensor&) {}
void no_vjp(OpContext&, const Tensor&, const Tensor&, std::span<Tensor* const>,
            std::span<const bool>, ReluRule) {}
}  // namespace

extern const OpDef kInputDef{"Input", no_shape, no_forward, no_vjp, nullptr};
extern const OpDef kConstDef{"Const", no_shape, no_forward, no_vjp, nullptr};

}  // namespace cnnlens
