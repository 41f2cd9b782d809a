// Multiply-adds of a graph's nodes for one image: the cost figure `cnnlens model-info` prints.
// Convention: one multiply-add (a*b + c) counts 1 MAC, as torchvision's "GFLOPS" tables count
// (they are MACs of convolutions and linear layers). Per op:
//   Conv2D         output H*W * KH*KW*(Cin/groups)*Cout   (= output positions * weight size)
//   ConvTranspose  input H*W * weight size                 (each input pixel scatters the kernel)
//   MatMul         K*M per row (a [1,K] times b [K,M])
//   BatchMatMul    K per output element                   (attention: two activations multiplied)
//   BatchNorm      1 per output element                    (x * scale + shift)
//   MaxPool/AvgPool  output elements * KH*KW               (one compare or add per window tap)
//   Mean           1 per input element                     (global average pooling's adds)
// Biases, activations (fused or not), elementwise Add/Mul/... and reshapes count 0: they are
// not multiply-adds and are a rounding error next to the convolutions. conv_matmul_macs()
// is the figure comparable with torchvision's tables.
#pragma once
#include <cstdint>

#include "core/graph/graph.h"

namespace cnnlens {

// MACs of node `node` for one image (the graph must be validated); 0 for ops not listed above.
int64_t node_macs(const Graph& g, int node);

struct MacTotals {
    int64_t total = 0;        // every node's node_macs()
    int64_t conv_matmul = 0;  // Conv2D, ConvTranspose and MatMul only (torchvision's count)
};
MacTotals graph_macs(const Graph& g);

}  // namespace cnnlens
