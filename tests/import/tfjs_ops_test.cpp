// TF.js graph-model import, op by op: every TF op the importer claims to support is used in a
// tiny model.json built here (weights in an in-memory shard), run on the reference kernels and
// compared with the expected output computed by hand in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/graph/executor.h"
#include "core/import/tfjs/tfjs_graph.h"
#include "core/kernels/kernels.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;
using Vec = std::vector<double>;
using Dims = std::vector<int64_t>;

std::string b64(const std::string& in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += t[(v >> 6) & 63];
        out += t[v & 63];
    }
    if (i + 1 == in.size()) {
        const uint32_t v = uint8_t(in[i]) << 16;
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += t[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

json s_attr(const std::string& s) { return {{"s", b64(s)}}; }
json i_attr(int64_t v) { return {{"i", std::to_string(v)}}; }
json f_attr(double v) { return {{"f", v}}; }
json b_attr(bool v) { return {{"b", v}}; }
json ilist(std::initializer_list<int64_t> v) {
    json a = json::array();
    for (int64_t x : v) a.push_back(std::to_string(x));
    return {{"list", {{"i", a}}}};
}
json slist(std::initializer_list<std::string> v) {
    json a = json::array();
    for (const std::string& x : v) a.push_back(b64(x));
    return {{"list", {{"s", a}}}};
}

int64_t count(const Dims& d) {
    int64_t n = 1;
    for (int64_t x : d) n *= x;
    return n;
}

// Deterministic test values in roughly [-scale, scale], none exactly zero.
Vec values(int64_t n, double scale = 1.0, int seed = 1) {
    Vec v(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) v[k] = scale * std::sin(0.7 * k + 1.3 * seed + 0.1);
    return v;
}

// Builds a model.json with one Placeholder "x" and a float/int32 weight shard "w.bin".
struct GraphFixture {
    json nodes = json::array();
    json weights = json::array();
    std::vector<uint8_t> shard;

    explicit GraphFixture(const Dims& input) {
        json dims = json::array();
        for (size_t k = 0; k < input.size(); ++k)
            dims.push_back({{"size", k == 0 ? "-1" : std::to_string(input[k])}});
        nodes.push_back(
            {{"name", "x"},
             {"op", "Placeholder"},
             {"attr",
              {{"dtype", {{"type", "DT_FLOAT"}}}, {"shape", {{"shape", {{"dim", dims}}}}}}}});
    }
    std::string constant(const std::string& name, const Dims& shape, const Vec& v) {
        EXPECT_EQ(count(shape), static_cast<int64_t>(v.size())) << name;
        for (double d : v) {
            const float f = static_cast<float>(d);
            const auto* p = reinterpret_cast<const uint8_t*>(&f);
            shard.insert(shard.end(), p, p + 4);
        }
        weights.push_back({{"name", name}, {"shape", shape}, {"dtype", "float32"}});
        nodes.push_back(
            {{"name", name}, {"op", "Const"}, {"attr", {{"dtype", {{"type", "DT_FLOAT"}}}}}});
        return name;
    }
    std::string ints(const std::string& name, const Dims& shape, const std::vector<int32_t>& v) {
        for (int32_t i : v) {
            const auto* p = reinterpret_cast<const uint8_t*>(&i);
            shard.insert(shard.end(), p, p + 4);
        }
        weights.push_back({{"name", name}, {"shape", shape}, {"dtype", "int32"}});
        nodes.push_back(
            {{"name", name}, {"op", "Const"}, {"attr", {{"dtype", {{"type", "DT_INT32"}}}}}});
        return name;
    }
    std::string node(const std::string& name, const std::string& op,
                     std::vector<std::string> inputs, json attr = json::object()) {
        nodes.push_back({{"name", name}, {"op", op}, {"input", inputs}, {"attr", attr}});
        return name;
    }
    std::string text() const {
        json j = {{"format", "graph-model"},
                  {"modelTopology", {{"node", nodes}}},
                  {"weightsManifest", json::array({{{"paths", {"w.bin"}}, {"weights", weights}}})}};
        return j.dump();
    }
};

// Imports `m`, runs it on x (shape `in`) and compares the output with `expect` (shape `out`).
void check(const GraphFixture& m, const Dims& in, const Vec& x, const Dims& out,
           const Vec& expect) {
    const std::vector<uint8_t> shard = m.shard;
    FileSource files = [&](const std::string& n) -> Expected<std::vector<uint8_t>> {
        if (n == "w.bin") return shard;
        return not_found("no file '" + n + "'");
    };
    auto g = import_tfjs_graph(m.text(), files, "model.json");
    ASSERT_TRUE(g) << g.status().message();
    ASSERT_TRUE(g->validate().is_ok());
    Executor ex(*g, reference_kernels());
    Tensor t(Shape::from(in.begin(), in.end()));
    ASSERT_EQ(t.size(), static_cast<int64_t>(x.size()));
    for (int64_t k = 0; k < t.size(); ++k) t[k] = static_cast<float>(x[k]);
    const Status st = ex.forward(t);
    ASSERT_TRUE(st.is_ok()) << st.message();
    const Tensor& y = ex.value(g->output());
    ASSERT_EQ(y.shape(), Shape::from(out.begin(), out.end())) << y.shape().str();
    ASSERT_EQ(y.size(), static_cast<int64_t>(expect.size()));
    for (int64_t k = 0; k < y.size(); ++k) EXPECT_NEAR(y[k], expect[k], 1e-5) << "element " << k;
}

// --- references (NHWC, TF semantics) ----------------------------------------------------
struct Pads {
    int64_t out, before;
};
Pads same(int64_t in, int64_t k, int64_t s) {
    const int64_t out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>((out - 1) * s + k - in, 0);
    return {out, total / 2};
}

// Conv2D with filter [kh,kw,C,O], SAME padding. Output [N,OH,OW,O].
Vec conv_ref(const Vec& x, const Dims& xs, const Vec& w, const Dims& ws, int64_t stride, Dims& os) {
    const int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3], KH = ws[0], KW = ws[1], O = ws[3];
    const Pads ph = same(H, KH, stride), pw = same(W, KW, stride);
    os = {N, ph.out, pw.out, O};
    Vec y(static_cast<size_t>(count(os)), 0.0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oh = 0; oh < ph.out; ++oh)
            for (int64_t ow = 0; ow < pw.out; ++ow)
                for (int64_t o = 0; o < O; ++o) {
                    double acc = 0;
                    for (int64_t i = 0; i < KH; ++i)
                        for (int64_t j = 0; j < KW; ++j) {
                            const int64_t h = oh * stride - ph.before + i,
                                          ww = ow * stride - pw.before + j;
                            if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                            for (int64_t c = 0; c < C; ++c)
                                acc += x[((n * H + h) * W + ww) * C + c] *
                                       w[((i * KW + j) * C + c) * O + o];
                        }
                    y[((n * ph.out + oh) * pw.out + ow) * O + o] = acc;
                }
    return y;
}

// Depthwise conv with filter [kh,kw,C,M], SAME, stride 1. Output channel c*M+m.
Vec dw_ref(const Vec& x, const Dims& xs, const Vec& w, const Dims& ws, Dims& os) {
    const int64_t N = xs[0], H = xs[1], W = xs[2], C = xs[3], KH = ws[0], KW = ws[1], M = ws[3];
    const Pads ph = same(H, KH, 1), pw = same(W, KW, 1);
    os = {N, H, W, C * M};
    Vec y(static_cast<size_t>(count(os)), 0.0);
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oh = 0; oh < H; ++oh)
            for (int64_t ow = 0; ow < W; ++ow)
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t m = 0; m < M; ++m) {
                        double acc = 0;
                        for (int64_t i = 0; i < KH; ++i)
                            for (int64_t j = 0; j < KW; ++j) {
                                const int64_t h = oh - ph.before + i, ww = ow - pw.before + j;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                acc += x[((n * H + h) * W + ww) * C + c] *
                                       w[((i * KW + j) * C + c) * M + m];
                            }
                        y[((n * H + oh) * W + ow) * C * M + c * M + m] = acc;
                    }
    return y;
}

// Adds a per-channel vector over the last axis.
Vec add_channel(Vec y, const Vec& b) {
    for (size_t k = 0; k < y.size(); ++k) y[k] += b[k % b.size()];
    return y;
}
Vec map(Vec y, const std::function<double(double, size_t)>& f) {
    for (size_t k = 0; k < y.size(); ++k) y[k] = f(y[k], k);
    return y;
}
double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }
double elu(double v) { return v > 0 ? v : std::exp(v) - 1; }

// --- tests -------------------------------------------------------------------------------
TEST(TfjsOps, Identity) {
    const Dims in{1, 2, 2, 1};
    GraphFixture m(in);
    m.node("y", "Identity", {"x"});
    const Vec x = values(4);
    check(m, in, x, in, x);
}

TEST(TfjsOps, Conv2DSameStride2) {
    const Dims in{1, 5, 5, 2}, ws{3, 3, 2, 3};
    const Vec x = values(count(in)), w = values(count(ws), 0.5, 2);
    GraphFixture m(in);
    m.constant("w", ws, w);
    m.node("y", "Conv2D", {"x", "w"},
           {{"padding", s_attr("SAME")},
            {"strides", ilist({1, 2, 2, 1})},
            {"data_format", s_attr("NHWC")},
            {"dilations", ilist({1, 1, 1, 1})}});
    Dims os;
    const Vec y = conv_ref(x, in, w, ws, 2, os);
    EXPECT_EQ(os, (Dims{1, 3, 3, 3}));
    check(m, in, x, os, y);
}

TEST(TfjsOps, FusedConv2D) {
    const Dims in{1, 4, 4, 2}, ws{3, 3, 2, 3};
    const Vec x = values(count(in), 2.0), w = values(count(ws), 1.0, 3), bias{0.1, -0.2, 0.3},
              alpha{0.1, 0.25, -0.5};
    Dims os;
    const Vec conv = conv_ref(x, in, w, ws, 1, os);
    const Vec pre = add_channel(conv, bias);
    struct Case {
        std::string name;
        std::vector<std::string> ops;
        Vec expect;
    };
    // FusedBatchNorm folding: (conv - mean) * scale / sqrt(var + eps) + offset.
    const Vec scale{1.5, 0.5, -0.7}, offset{0.2, -0.1, 0.4}, mean{0.3, -0.6, 0.1},
        var{0.8, 2.0, 0.25};
    const double eps = 0.01;
    const Vec bn = map(conv, [&](double v, size_t k) {
        const size_t c = k % 3;
        return (v - mean[c]) * scale[c] / std::sqrt(var[c] + eps) + offset[c];
    });
    const std::vector<Case> cases = {
        {"Relu6",
         {"BiasAdd", "Relu6"},
         map(pre, [](double v, size_t) { return std::clamp(v, 0.0, 6.0); })},
        {"Elu", {"BiasAdd", "Elu"}, map(pre, [](double v, size_t) { return elu(v); })},
        {"LeakyRelu",
         {"BiasAdd", "LeakyRelu"},
         map(pre, [](double v, size_t) { return v > 0 ? v : 0.3 * v; })},
        {"Prelu",
         {"BiasAdd", "Prelu"},
         map(pre, [&](double v, size_t k) { return v > 0 ? v : alpha[k % 3] * v; })},
        {"FusedBatchNorm", {"FusedBatchNorm"}, bn},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        GraphFixture m(in);
        m.constant("w", ws, w);
        std::vector<std::string> inputs{"x", "w"};
        json attr = {{"padding", s_attr("SAME")},
                     {"strides", ilist({1, 1, 1, 1})},
                     {"data_format", s_attr("NHWC")},
                     {"dilations", ilist({1, 1, 1, 1})}};
        if (c.name == "FusedBatchNorm") {
            inputs.push_back(m.constant("scale", {3}, scale));
            inputs.push_back(m.constant("offset", {3}, offset));
            inputs.push_back(m.constant("mean", {3}, mean));
            inputs.push_back(m.constant("var", {3}, var));
            attr["fused_ops"] = slist({"FusedBatchNorm"});
            attr["num_args"] = i_attr(4);
            attr["epsilon"] = f_attr(eps);
        } else {
            inputs.push_back(m.constant("bias", {3}, bias));
            if (c.name == "Prelu") inputs.push_back(m.constant("alpha", {3}, alpha));
            attr["fused_ops"] = c.name == "Prelu"   ? slist({"BiasAdd", "Prelu"})
                                : c.name == "Elu"   ? slist({"BiasAdd", "Elu"})
                                : c.name == "Relu6" ? slist({"BiasAdd", "Relu6"})
                                                    : slist({"BiasAdd", "LeakyRelu"});
            attr["num_args"] = i_attr(c.name == "Prelu" ? 2 : 1);
            if (c.name == "LeakyRelu") attr["leakyrelu_alpha"] = f_attr(0.3);
        }
        m.node("y", "_FusedConv2D", inputs, attr);
        check(m, in, x, os, c.expect);
    }
}

TEST(TfjsOps, DepthwiseMultiplier2AndFused) {
    const Dims in{1, 4, 4, 2}, ws{3, 3, 2, 2};
    const Vec x = values(count(in)), w = values(count(ws), 0.8, 4), bias{0.1, -0.3, 0.2, -0.05};
    Dims os;
    const Vec y = dw_ref(x, in, w, ws, os);
    EXPECT_EQ(os, (Dims{1, 4, 4, 4}));
    const json attr = {{"padding", s_attr("SAME")},
                       {"strides", ilist({1, 1, 1, 1})},
                       {"data_format", s_attr("NHWC")},
                       {"dilations", ilist({1, 1, 1, 1})}};
    {
        GraphFixture m(in);
        m.constant("w", ws, w);
        m.node("y", "DepthwiseConv2dNative", {"x", "w"}, attr);
        check(m, in, x, os, y);
    }
    {
        GraphFixture m(in);
        m.constant("w", ws, w);
        m.constant("b", {4}, bias);
        json a = attr;
        a["fused_ops"] = slist({"BiasAdd", "Relu"});
        a["num_args"] = i_attr(1);
        m.node("y", "_FusedDepthwiseConv2dNative", {"x", "w", "b"}, a);
        check(m, in, x, os,
              map(add_channel(y, bias), [](double v, size_t) { return std::max(v, 0.0); }));
    }
}

TEST(TfjsOps, MaxPoolAndAvgPoolSame) {
    {
        const Dims in{1, 4, 4, 2};
        const Vec x = values(count(in));
        GraphFixture m(in);
        m.node("y", "MaxPool", {"x"},
               {{"padding", s_attr("VALID")},
                {"ksize", ilist({1, 2, 2, 1})},
                {"strides", ilist({1, 2, 2, 1})},
                {"data_format", s_attr("NHWC")}});
        Vec y;
        for (int oh = 0; oh < 2; ++oh)
            for (int ow = 0; ow < 2; ++ow)
                for (int c = 0; c < 2; ++c) {
                    double best = -1e30;
                    for (int i = 0; i < 2; ++i)
                        for (int j = 0; j < 2; ++j)
                            best = std::max(best, x[((oh * 2 + i) * 4 + ow * 2 + j) * 2 + c]);
                    y.push_back(best);
                }
        check(m, in, x, {1, 2, 2, 2}, y);
    }
    {
        const Dims in{1, 5, 5, 2};
        const Vec x = values(count(in));
        GraphFixture m(in);
        m.node("y", "AvgPool", {"x"},
               {{"padding", s_attr("SAME")},
                {"ksize", ilist({1, 3, 3, 1})},
                {"strides", ilist({1, 2, 2, 1})},
                {"data_format", s_attr("NHWC")}});
        const Pads p = same(5, 3, 2);  // out 3, pad before 1
        Vec y;
        for (int64_t oh = 0; oh < p.out; ++oh)
            for (int64_t ow = 0; ow < p.out; ++ow)
                for (int c = 0; c < 2; ++c) {
                    double s = 0;
                    int n = 0;
                    for (int i = 0; i < 3; ++i)
                        for (int j = 0; j < 3; ++j) {
                            const int64_t h = oh * 2 - p.before + i, w = ow * 2 - p.before + j;
                            if (h < 0 || h >= 5 || w < 0 || w >= 5) continue;
                            s += x[(h * 5 + w) * 2 + c];
                            ++n;
                        }
                    y.push_back(s / n);  // padding not counted
                }
        check(m, in, x, {1, 3, 3, 2}, y);
    }
}

TEST(TfjsOps, BinaryWithBroadcastConstant) {
    const Dims in{2, 2, 2, 3};
    const Vec x = values(count(in)), c{0.5, -1.25, 2.0};
    const std::vector<std::pair<std::string, std::function<double(double, double)>>> ops = {
        {"AddV2", [](double a, double b) { return a + b; }},
        {"Add", [](double a, double b) { return a + b; }},
        {"Sub", [](double a, double b) { return a - b; }},
        {"Mul", [](double a, double b) { return a * b; }},
        {"RealDiv", [](double a, double b) { return a / b; }},
        {"BiasAdd", [](double a, double b) { return a + b; }},
    };
    for (const auto& entry : ops) {
        const std::string& op = entry.first;
        const auto& f = entry.second;  // not a structured binding: clang 14 cannot capture those
        SCOPED_TRACE(op);
        GraphFixture m(in);
        m.constant("c", {3}, c);
        m.node("y", op, {"x", "c"},
               op == "BiasAdd" ? json{{"data_format", s_attr("NHWC")}} : json::object());
        check(m, in, x, in, map(x, [&](double v, size_t k) { return f(v, c[k % 3]); }));
    }
}

TEST(TfjsOps, Activations) {
    const Dims in{1, 2, 2, 3};
    const Vec x = values(count(in), 8.0);  // spans both sides of 0 and 6
    const Vec alpha{0.1, -0.2, 0.5};
    const std::vector<std::pair<std::string, std::function<double(double, size_t)>>> ops = {
        {"Relu", [](double v, size_t) { return std::max(v, 0.0); }},
        {"Relu6", [](double v, size_t) { return std::clamp(v, 0.0, 6.0); }},
        {"Elu", [](double v, size_t) { return elu(v); }},
        {"LeakyRelu", [](double v, size_t) { return v > 0 ? v : 0.15 * v; }},
        {"Prelu", [&](double v, size_t k) { return v > 0 ? v : alpha[k % 3] * v; }},
        {"Sigmoid", [](double v, size_t) { return sigmoid(v); }},
        {"Tanh", [](double v, size_t) { return std::tanh(v); }},
    };
    for (const auto& entry : ops) {
        const std::string& op = entry.first;
        const auto& f = entry.second;  // not a structured binding: clang 14 cannot capture those
        SCOPED_TRACE(op);
        GraphFixture m(in);
        if (op == "Prelu") {
            m.constant("alpha", {3}, alpha);
            m.node("y", op, {"x", "alpha"});
        } else if (op == "LeakyRelu") {
            m.node("y", op, {"x"}, {{"alpha", f_attr(0.15)}});
        } else {
            m.node("y", op, {"x"});
        }
        check(m, in, x, in, map(x, f));
    }
}

TEST(TfjsOps, MeanOverSpatialAxes) {
    const Dims in{2, 2, 3, 4};
    const Vec x = values(count(in));
    GraphFixture m(in);
    m.ints("axes", {2}, {1, 2});
    m.node("y", "Mean", {"x", "axes"},
           {{"keep_dims", b_attr(false)}, {"Tidx", {{"type", "DT_INT32"}}}});
    Vec y(8, 0.0);
    for (int n = 0; n < 2; ++n)
        for (int h = 0; h < 2; ++h)
            for (int w = 0; w < 3; ++w)
                for (int c = 0; c < 4; ++c) y[n * 4 + c] += x[((n * 2 + h) * 3 + w) * 4 + c] / 6.0;
    check(m, in, x, {2, 4}, y);
}

TEST(TfjsOps, MatMulTransposeBAndFused) {
    const Dims in{2, 3};
    const Vec x = values(6, 1.5), w = values(12, 1.0, 5), bias{0.1, -0.4, 0.2, -0.1};  // w is [4,3]
    Vec mm(8, 0.0);
    for (int n = 0; n < 2; ++n)
        for (int o = 0; o < 4; ++o)
            for (int i = 0; i < 3; ++i) mm[n * 4 + o] += x[n * 3 + i] * w[o * 3 + i];
    {
        GraphFixture m(in);
        m.constant("w", {4, 3}, w);
        m.node("y", "MatMul", {"x", "w"},
               {{"transpose_a", b_attr(false)}, {"transpose_b", b_attr(true)}});
        check(m, in, x, {2, 4}, mm);
    }
    {
        GraphFixture m(in);
        m.constant("w", {4, 3}, w);
        m.constant("b", {4}, bias);
        m.node("y", "_FusedMatMul", {"x", "w", "b"},
               {{"transpose_a", b_attr(false)},
                {"transpose_b", b_attr(true)},
                {"fused_ops", slist({"BiasAdd", "Relu"})},
                {"num_args", i_attr(1)}});
        check(m, in, x, {2, 4},
              map(add_channel(mm, bias), [](double v, size_t) { return std::max(v, 0.0); }));
    }
}

TEST(TfjsOps, ReshapeSqueezeExpandDims) {
    {
        const Dims in{2, 2, 2, 3};
        const Vec x = values(count(in));
        GraphFixture m(in);
        m.ints("shape", {2}, {-1, 12});
        m.node("y", "Reshape", {"x", "shape"});
        check(m, in, x, {2, 12}, x);
    }
    {
        const Dims in{2, 1, 1, 3};
        const Vec x = values(count(in));
        GraphFixture m(in);
        m.node("s", "Squeeze", {"x"}, {{"squeeze_dims", ilist({1, 2})}});
        m.ints("axis", {}, {1});
        m.node("y", "ExpandDims", {"s", "axis"});
        check(m, in, x, {2, 1, 3}, x);
    }
    {
        const Dims in{2, 1, 1, 3};
        const Vec x = values(count(in));
        GraphFixture m(in);
        m.node("y", "Squeeze", {"x"}, {{"squeeze_dims", ilist({1, 2})}});
        check(m, in, x, {2, 3}, x);
    }
}

TEST(TfjsOps, ConcatV2AxisLast) {
    const Dims in{1, 2, 2, 2};
    const Vec x = values(count(in));
    GraphFixture m(in);
    m.node("r", "Relu", {"x"});
    m.ints("axis", {}, {-1});
    m.node("y", "ConcatV2", {"x", "r", "axis"}, {{"N", i_attr(2)}});
    Vec y;
    for (int p = 0; p < 4; ++p) {
        for (int c = 0; c < 2; ++c) y.push_back(x[p * 2 + c]);
        for (int c = 0; c < 2; ++c) y.push_back(std::max(x[p * 2 + c], 0.0));
    }
    check(m, in, x, {1, 2, 2, 4}, y);
}

TEST(TfjsOps, PadAndPadV2) {
    const Dims in{1, 2, 2, 2};
    const Vec x = values(count(in));
    // paddings [[0,0],[1,0],[0,2],[0,0]] -> [1,3,4,2]
    for (const std::string op : {"Pad", "PadV2"}) {
        SCOPED_TRACE(op);
        const double fill = op == "PadV2" ? 0.5 : 0.0;
        GraphFixture m(in);
        m.ints("paddings", {4, 2}, {0, 0, 1, 0, 0, 2, 0, 0});
        std::vector<std::string> inputs{"x", "paddings"};
        if (op == "PadV2") inputs.push_back(m.constant("value", {}, {fill}));
        m.node("y", op, inputs);
        Vec y;
        for (int h = 0; h < 3; ++h)
            for (int w = 0; w < 4; ++w)
                for (int c = 0; c < 2; ++c)
                    y.push_back(h >= 1 && w < 2 ? x[((h - 1) * 2 + w) * 2 + c] : fill);
        check(m, in, x, {1, 3, 4, 2}, y);
    }
}

TEST(TfjsOps, Softmax) {
    const Dims in{2, 5};
    const Vec x = values(10, 3.0);
    GraphFixture m(in);
    m.node("y", "Softmax", {"x"});
    Vec y(10);
    for (int n = 0; n < 2; ++n) {
        double mx = -1e30, s = 0;
        for (int k = 0; k < 5; ++k) mx = std::max(mx, x[n * 5 + k]);
        for (int k = 0; k < 5; ++k) s += std::exp(x[n * 5 + k] - mx);
        for (int k = 0; k < 5; ++k) y[n * 5 + k] = std::exp(x[n * 5 + k] - mx) / s;
    }
    check(m, in, x, in, y);
}

TEST(TfjsOps, FusedBatchNormV3) {
    const Dims in{1, 2, 2, 3};
    const Vec x = values(count(in), 2.0);
    const Vec scale{1.5, 0.5, -0.7}, offset{0.2, -0.1, 0.4}, mean{0.3, -0.6, 0.1},
        var{0.8, 2.0, 0.25};
    const double eps = 0.001;
    GraphFixture m(in);
    m.constant("scale", {3}, scale);
    m.constant("offset", {3}, offset);
    m.constant("mean", {3}, mean);
    m.constant("var", {3}, var);
    m.node("y", "FusedBatchNormV3", {"x", "scale", "offset", "mean", "var"},
           {{"epsilon", f_attr(eps)},
            {"is_training", b_attr(false)},
            {"data_format", s_attr("NHWC")}});
    check(m, in, x, in, map(x, [&](double v, size_t k) {
              const size_t c = k % 3;
              return (v - mean[c]) * scale[c] / std::sqrt(var[c] + eps) + offset[c];
          }));
}

}  // namespace
}  // namespace cnnlens
