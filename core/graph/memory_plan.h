// What a graph's memory is measured against, for `cnnlens bench --memory` and the tests.
//   weights:     the bytes of every Const node's value (float32), as the graph stores them;
//                kernels' packed copies are not included (they are the engine's cost).
//   activations: one image's every node output (the input included), float32: a tape that
//                keeps everything.
//   forward plan: the most node outputs alive at once in a forward-only pass that frees each
//                output after its last reader (outputs nothing reads stay to the end).
//   backward tape: the outputs a backward sweep reads (OpDef::vjp_reads), which a forward made
//                for backward() alone keeps.
#pragma once
#include <cstdint>
#include <vector>

#include "core/graph/graph.h"

namespace cnnlens {

struct GraphMemory {
    int64_t weight_bytes = 0;
    int64_t activation_bytes = 0;
    int64_t forward_plan_bytes = 0;
    int64_t backward_tape_bytes = 0;
};
GraphMemory graph_memory(const Graph& g);

// Per node: 1 when some VJP reads its value (its own, or a reader's), by OpDef::vjp_reads.
std::vector<char> read_by_backward(const Graph& g);

}  // namespace cnnlens
