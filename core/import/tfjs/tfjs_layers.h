// Import of TF.js layers models: model.json with "format": "layers-model", whose modelTopology
// is a Keras model config (tfjs-converter output of a Keras .h5, or Keras `model.to_json()`),
// plus the weight shards of its manifest (quantized weights are dequantized on load).
//
// Both Sequential and functional (`Model` / `Functional`) configs are read, Keras 2 style
// (`inbound_nodes` as [[layer, node_index, tensor_index, kwargs], ...]; Keras 3's
// {"args": [...keras_history...]} calls are read too). Data must be channels_last.
//
// Layers: InputLayer, Conv2D, SeparableConv2D, DepthwiseConv2D, Dense, BatchNormalization,
// Activation, ReLU, LeakyReLU, PReLU, ELU, Softmax, MaxPooling2D, AveragePooling2D,
// GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Reshape, ZeroPadding2D, Add, Subtract,
// Multiply, Average, Concatenate, Rescaling, and Dropout / SpatialDropout2D / GaussianNoise /
// GaussianDropout (identities at inference). Activations (layer or `activation` argument):
// linear, relu, relu6, elu, selu, sigmoid, tanh, softmax, swish/silu.
//
// Node names keep the Keras layer names: a layer's output is the node named after the layer,
// so "conv2d_2, filter 17" means what it means in Keras. A layer that needs several nodes
// names the others "<layer>/<part>" (e.g. "separable_conv2d/depthwise", "dense/linear" for
// the pre-softmax scores of Dense(activation='softmax')); weights become Const nodes named
// "<layer>/<weight>" ("conv2d/kernel"). The second and later calls of a shared layer are
// named "<layer>/call_<k>".
//
// Weights are matched to layers by name: a manifest entry "a/b/<layer>/<weight>" (":0"
// suffixes ignored) belongs to <layer>. Every unsupported layer class and activation is
// reported at once, with the layer names.
#pragma once
#include <string>
#include <string_view>

#include "core/import/model.h"

namespace cnnlens {

// True when `json_text` is a TF.js layers model (format "layers-model", or a modelTopology
// holding a Keras class_name / model_config).
bool is_tfjs_layers_model(std::string_view json_text);

// `json_text` is model.json; shards are read through `files` by their manifest paths.
// `json_name` prefixes every error.
Expected<Graph> import_tfjs_layers(std::string_view json_text, const FileSource& files,
                                   const std::string& json_name);

}  // namespace cnnlens
