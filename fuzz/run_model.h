// Shared by the model fuzz targets: a model that loads is run forward and backward on one image
// with the reference kernels, when it is small enough to do so quickly.
#pragma once
#include <vector>

#include "core/graph/executor.h"
#include "core/import/model.h"

namespace cnnlens::fuzz {

inline void run_if_small(const Model& m) {
    // Work of one forward pass, roughly: outputs x (parameters + 1) per node.
    const Graph& g = m.graph;
    double work = 0;
    for (int i = 0; i < g.size(); ++i)
        if (g.node(i).op != OpType::kConst && g.node(i).op != OpType::kInput)
            work += static_cast<double>(g.node(i).shape.elements()) *
                    static_cast<double>(g.parameter_count(i) + 1);
    if (work > 2e6) return;
    Shape s = g.node(g.input()).shape;
    s[0] = 1;
    Tensor x(s, 0.5f);
    Executor ex(g, reference_kernels());
    if (!ex.forward(x)) return;
    Seed seed{m.logits, Tensor(ex.value(m.logits).shape(), 1.f)};
    const int wanted[] = {g.input()};
    std::vector<Tensor> grads;
    (void)ex.backward(std::span<const Seed>(&seed, 1), wanted, ReluRule::kStandard, grads);
}

}  // namespace cnnlens::fuzz
