// ONNX import against PyTorch: every fixture model of tests/data/onnx (written by
// tests/oracle/make_onnx_fixtures.py) at every opset, on every compiled kernel set. Outputs must
// match PyTorch's to 1e-5 absolute, scaled by max |output| when that exceeds 1
// (|ours - torch| <= 1e-5 * max(1, max |torch|)); input gradients of the chosen output element
// to 1e-4 relative (L2, per image). Hand-built models cover ops and attributes PyTorch does not
// emit; malformed files must give precise errors, never crashes.
#include "core/import/onnx/onnx_graph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/graph/executor.h"
#include "core/import/model.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

using json = nlohmann::json;

// --- A minimal protobuf/ONNX writer for hand-built models ----------------------------------

struct Pb {
    std::vector<uint8_t> b;
    Pb& varint(uint64_t v) {
        do {
            uint8_t x = v & 0x7f;
            v >>= 7;
            if (v) x |= 0x80;
            b.push_back(x);
        } while (v);
        return *this;
    }
    Pb& tag(uint32_t f, int w) { return varint((uint64_t{f} << 3) | static_cast<uint64_t>(w)); }
    Pb& i(uint32_t f, int64_t v) { return tag(f, 0).varint(static_cast<uint64_t>(v)); }
    Pb& f32(uint32_t f, float v) {
        tag(f, 5);
        uint8_t x[4];
        std::memcpy(x, &v, 4);
        b.insert(b.end(), x, x + 4);
        return *this;
    }
    Pb& bytes(uint32_t f, const std::vector<uint8_t>& v) {
        tag(f, 2).varint(v.size());
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    Pb& str(uint32_t f, const std::string& s) {
        return bytes(f, std::vector<uint8_t>(s.begin(), s.end()));
    }
    Pb& msg(uint32_t f, const Pb& m) { return bytes(f, m.b); }
};

Pb tensor(const std::string& name, const std::vector<int64_t>& dims,
          const std::vector<float>& values) {
    Pb t;
    for (int64_t d : dims) t.i(1, d);
    t.i(2, 1).str(8, name);
    std::vector<uint8_t> raw(values.size() * 4);
    if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
    t.bytes(9, raw);
    return t;
}

Pb int_tensor(const std::string& name, const std::vector<int64_t>& values) {
    Pb t;
    t.i(1, static_cast<int64_t>(values.size())).i(2, 7).str(8, name);
    for (int64_t v : values) t.i(7, v);
    return t;
}

Pb int_scalar(const std::string& name, int64_t v) { return Pb().i(2, 7).str(8, name).i(7, v); }

Pb attr_i(const std::string& n, int64_t v) { return Pb().str(1, n).i(20, 2).i(3, v); }
Pb attr_f(const std::string& n, float v) { return Pb().str(1, n).i(20, 1).f32(2, v); }
Pb attr_s(const std::string& n, const std::string& v) { return Pb().str(1, n).i(20, 3).str(4, v); }
Pb attr_ints(const std::string& n, const std::vector<int64_t>& v) {
    Pb a;
    a.str(1, n).i(20, 7);
    for (int64_t x : v) a.i(8, x);
    return a;
}
Pb attr_t(const std::string& n, const Pb& t) { return Pb().str(1, n).i(20, 4).msg(5, t); }

Pb node(const std::string& op, const std::vector<std::string>& ins,
        const std::vector<std::string>& outs, const std::vector<Pb>& attrs = {},
        const std::string& name = "") {
    Pb n;
    for (const auto& s : ins) n.str(1, s);
    for (const auto& s : outs) n.str(2, s);
    n.str(3, name.empty() ? outs[0] : name).str(4, op);
    for (const Pb& a : attrs) n.msg(5, a);
    return n;
}

Pb value_info(const std::string& name, const std::vector<int64_t>& dims) {
    Pb shape;
    for (int64_t d : dims) shape.msg(1, d < 0 ? Pb().str(2, "N") : Pb().i(1, d));
    Pb tt;
    tt.i(1, 1).msg(2, shape);
    return Pb().str(1, name).msg(2, Pb().msg(1, tt));
}

std::vector<uint8_t> model(const std::vector<Pb>& nodes, const std::vector<Pb>& inits,
                           const std::vector<int64_t>& in_dims, int64_t opset = 13,
                           const std::string& out = "y") {
    Pb g;
    for (const Pb& n : nodes) g.msg(1, n);
    g.str(2, "test");
    for (const Pb& t : inits) g.msg(5, t);
    g.msg(11, value_info("x", in_dims));
    g.msg(12, value_info(out, {}));
    Pb m;
    m.i(1, 8).str(2, "test").msg(7, g).msg(8, Pb().str(1, "").i(2, opset));
    return m.b;
}

Expected<Graph> import(const std::vector<uint8_t>& bytes, const OnnxLimits& limits = {}) {
    return import_onnx(bytes, "m.onnx", limits);
}

Tensor run(Graph& g, const Tensor& x, const KernelSet& ks = reference_kernels()) {
    Executor ex(g, ks);
    EXPECT_TRUE(ex.forward(x).is_ok());
    return ex.value(g.output()).clone();
}

int count_ops(const Graph& g, OpType op) {
    int n = 0;
    for (const Node& node : g.nodes()) n += node.op == op;
    return n;
}

// --- The PyTorch fixtures ------------------------------------------------------------------

struct OnnxFixture {
    std::string name;
    int h = 0, w = 0, c = 0, classes = 0, count = 0;
    std::vector<int> targets, opsets;
    std::string output;
};

std::vector<OnnxFixture> fixtures() {
    const auto bytes = test::read_file(test::source_path("tests/data/onnx/index.json"));
    std::vector<OnnxFixture> out;
    json j = json::parse(bytes.begin(), bytes.end(), nullptr, false);
    if (j.is_discarded()) return out;
    for (const json& m : j["models"]) {
        OnnxFixture f;
        f.name = m["name"];
        f.h = m["input"][0];
        f.w = m["input"][1];
        f.c = m["input"][2];
        f.classes = m["classes"];
        f.count = m["inputs"];
        f.targets = m["targets"].get<std::vector<int>>();
        f.opsets = m["opsets"].get<std::vector<int>>();
        f.output = m["output"];
        out.push_back(f);
    }
    return out;
}

std::string fixture_path(const std::string& file) {
    return test::source_path("tests/data/onnx/" + file);
}

class OnnxFixtureTest : public ::testing::TestWithParam<const KernelSet*> {};

TEST_P(OnnxFixtureTest, MatchesPyTorch) {
    const std::vector<OnnxFixture> all = fixtures();
    ASSERT_GE(all.size(), 5u) << "tests/data/onnx/index.json is missing; run /usr/bin/python3 "
                                 "tests/oracle/make_onnx_fixtures.py";
    int checked = 0;
    for (const OnnxFixture& f : all) {
        const auto u8 = test::read_file(fixture_path(f.name + ".inputs.u8"));
        const auto ref = test::read_f32(fixture_path(f.name + ".outputs.f32"));
        const auto grad = test::read_f32(fixture_path(f.name + ".grads.f32"));
        const int64_t pixels = int64_t{f.h} * f.w * f.c;
        ASSERT_EQ(static_cast<int64_t>(u8.size()), f.count * pixels) << f.name;
        ASSERT_EQ(ref.size(), static_cast<size_t>(f.count * f.classes)) << f.name;
        ASSERT_EQ(static_cast<int64_t>(grad.size()), f.count * pixels) << f.name;
        Tensor x(Shape{f.count, f.h, f.w, f.c});
        for (int64_t i = 0; i < x.size(); ++i)
            x[i] = static_cast<float>(u8[static_cast<size_t>(i)]) / 255.f;
        double scale = 1.0;
        for (float v : ref) scale = std::max(scale, static_cast<double>(std::fabs(v)));
        for (int opset : f.opsets) {
            const std::string file = f.name + ".opset" + std::to_string(opset) + ".onnx";
            SCOPED_TRACE(file);
            auto m = load_model(fixture_path(file));
            ASSERT_TRUE(m) << m.status().message();
            EXPECT_EQ(m->spec.format, "onnx");
            Executor ex(m->graph, *GetParam());
            // Batched and one image at a time.
            for (int b : {f.count, 1}) {
                for (int first = 0; first < f.count; first += b) {
                    Tensor xb(Shape{b, f.h, f.w, f.c});
                    std::copy(x.data() + first * pixels, x.data() + (first + b) * pixels,
                              xb.data());
                    ASSERT_TRUE(ex.forward(xb).is_ok());
                    const Tensor& y = ex.value(m->graph.output());
                    ASSERT_EQ(y.shape(), (Shape{b, f.classes}));
                    EXPECT_LE(
                        test::max_abs_diff(y.data(), ref.data() + first * f.classes, b * f.classes),
                        1e-5 * scale)
                        << "batch " << b << " first " << first;
                    Tensor seed(y.shape(), 0.f);
                    for (int k = 0; k < b; ++k)
                        seed[k * f.classes + f.targets[static_cast<size_t>(first + k)]] = 1.f;
                    std::vector<Seed> seeds;
                    seeds.push_back({m->graph.output(), std::move(seed)});
                    std::vector<Tensor> g;
                    const int input = m->graph.input();
                    ASSERT_TRUE(ex.backward(seeds, {&input, 1}, ReluRule::kStandard, g).is_ok());
                    for (int k = 0; k < b; ++k)
                        EXPECT_LT(test::rel_l2(g[0].data() + k * pixels,
                                               grad.data() + (first + k) * pixels, pixels),
                                  1e-4)
                            << "gradient, image " << first + k;
                }
            }
            ++checked;
        }
    }
    EXPECT_GE(checked, 10);
}

INSTANTIATE_TEST_SUITE_P(AllSets, OnnxFixtureTest,
                         ::testing::ValuesIn(compiled_kernel_sets().begin(),
                                             compiled_kernel_sets().end()),
                         [](const testing::TestParamInfo<const KernelSet*>& i) {
                             return test::kernel_test_name(*i.param);
                         });

TEST(Onnx, BatchNormIsFoldedAndFlattenNeedsNoTranspose) {
    auto vgg = import(test::read_file(fixture_path("vgg48.opset17.onnx")));
    ASSERT_TRUE(vgg) << vgg.status().message();
    EXPECT_EQ(count_ops(*vgg, OpType::kBatchNorm), 0)
        << "every BatchNormalization follows a Conv with no other consumer";
    EXPECT_EQ(count_ops(*vgg, OpType::kConv2D), 4);
    EXPECT_EQ(count_ops(*vgg, OpType::kTranspose), 0)
        << "the Gemm after Flatten takes permuted weights instead";
    // act48: one BN reads a Conv that has a second consumer, one follows an Elu: both kept.
    auto act = import(test::read_file(fixture_path("act48.opset11.onnx")));
    ASSERT_TRUE(act) << act.status().message();
    EXPECT_EQ(count_ops(*act, OpType::kBatchNorm), 2);
    EXPECT_EQ(count_ops(*act, OpType::kLogSoftmax), 1);
    EXPECT_EQ(count_ops(*act, OpType::kSelu), 1);
    // resnet48: x.view(x.size(0), -1) after the global pool is a single Reshape.
    auto res = import(test::read_file(fixture_path("resnet48.opset11.onnx")));
    ASSERT_TRUE(res) << res.status().message();
    EXPECT_EQ(count_ops(*res, OpType::kReshape), 1);
    EXPECT_EQ(count_ops(*res, OpType::kTranspose), 0);
}

TEST(Onnx, PermutesAreRelabelledAndAShuffleIsOneTranspose) {
    // ConvNeXt's NCHW<->NHWC permutes around its Linear layers and LayerNorms move no data.
    for (int opset : {11, 17}) {
        auto cn = import(
            test::read_file(fixture_path("convnext32.opset" + std::to_string(opset) + ".onnx")));
        ASSERT_TRUE(cn) << cn.status().message();
        EXPECT_EQ(count_ops(*cn, OpType::kTranspose), 0) << opset;
        EXPECT_EQ(count_ops(*cn, OpType::kLayerNorm), opset >= 17 ? 5 : 0) << opset;
        EXPECT_EQ(count_ops(*cn, OpType::kSqrt), opset >= 17 ? 0 : 5) << opset;
        EXPECT_EQ(count_ops(*cn, OpType::kErf), 2) << opset;
        EXPECT_EQ(count_ops(*cn, OpType::kMatMul), 5) << opset;
    }
    // ShuffleNet: each channel shuffle is one rank-5 Transpose; each chunk(2) two Slices.
    auto sh = import(test::read_file(fixture_path("shuffle32.opset13.onnx")));
    ASSERT_TRUE(sh) << sh.status().message();
    EXPECT_EQ(count_ops(*sh, OpType::kTranspose), 3);
    EXPECT_EQ(count_ops(*sh, OpType::kSlice), 4);
    EXPECT_EQ(count_ops(*sh, OpType::kResize), 3);
    EXPECT_EQ(count_ops(*sh, OpType::kPad), 2);
}

TEST(Onnx, LoadModelInfersTheSpecOrReadsTheSidecar) {
    auto m = load_model(fixture_path("vgg48.opset11.onnx"));
    ASSERT_TRUE(m) << m.status().message();
    EXPECT_TRUE(m->spec.inferred);
    EXPECT_EQ(m->spec.input.height, 48);
    EXPECT_EQ(m->spec.input.channels, 1);
    EXPECT_EQ(m->spec.input.range_lo, 0.f);
    EXPECT_EQ(m->spec.input.range_hi, 1.f);
    ASSERT_EQ(m->num_classes(), 7);
    EXPECT_EQ(m->spec.classes[3], "happy");

    std::map<std::string, std::vector<uint8_t>> files;
    files["net.onnx"] = test::read_file(fixture_path("act48.opset17.onnx"));
    const std::string sidecar =
        R"({"input": {"range": [-1, 1]}, "classes": ["a","b","c","d","e","f","g"], "name": "mine"})";
    files["net.cnnlens.json"] = std::vector<uint8_t>(sidecar.begin(), sidecar.end());
    FileSource src = [&files](const std::string& n) -> Expected<std::vector<uint8_t>> {
        auto it = files.find(n);
        if (it == files.end()) return not_found("no file '" + n + "'");
        return it->second;
    };
    auto s = load_model_from(src, "net.onnx");
    ASSERT_TRUE(s) << s.status().message();
    EXPECT_FALSE(s->spec.inferred);
    EXPECT_EQ(s->spec.name, "mine");
    EXPECT_EQ(s->spec.input.range_lo, -1.f);
    EXPECT_EQ(s->spec.classes[6], "g");
    // LogSoftmax output: its input holds the logits.
    EXPECT_EQ(s->graph.node(s->logits).op, OpType::kMatMul);

    // A cnnlens.json naming the .onnx (format inferred from the extension).
    files.erase("net.cnnlens.json");
    const std::string spec = R"({"model": "net.onnx", "classes": ["a","b","c","d","e","f","g"]})";
    files["cnnlens.json"] = std::vector<uint8_t>(spec.begin(), spec.end());
    auto c = load_model_from(src, "cnnlens.json");
    ASSERT_TRUE(c) << c.status().message();
    EXPECT_EQ(c->spec.format, "onnx");
    EXPECT_FALSE(c->spec.inferred);
    auto d = load_model_from(src, "net.onnx");  // the same description found from the .onnx
    ASSERT_TRUE(d) << d.status().message();
    EXPECT_EQ(d->spec.classes[0], "a");

    // rgb64 ends in Softmax: probabilities and logits both resolved.
    auto r = load_model(fixture_path("rgb64.opset17.onnx"));
    ASSERT_TRUE(r) << r.status().message();
    EXPECT_GE(r->probs, 0);
    EXPECT_EQ(r->spec.input.channels, 3);
    EXPECT_EQ(r->spec.classes[0],
              "angry");  // 7 outputs: FER2013 names, to be confirmed by the user
    EXPECT_TRUE(r->spec.inferred);
}

// --- Hand-built models ---------------------------------------------------------------------

std::vector<float> iota(size_t n, float scale, float offset) {
    std::vector<float> v(n);
    for (size_t k = 0; k < n; ++k)
        v[k] = offset + scale * static_cast<float>((k * 7919) % 23) / 23.f;
    return v;
}

TEST(Onnx, GemmAttributesAndElementwiseOps) {
    // y = Selu(HardSigmoid(Clip(Identity(Dropout(Gemm(x, B, C; alpha 0.5, beta 2, transB))))))
    const std::vector<float> B = iota(12, 2.f, -1.f), C = {0.25f};
    auto bytes =
        model({node("Gemm", {"x", "B", "C"}, {"g"},
                    {attr_f("alpha", 0.5f), attr_f("beta", 2.f), attr_i("transB", 1)}),
               node("Dropout", {"g"}, {"d"}), node("Identity", {"d"}, {"i"}),
               node("Clip", {"i"}, {"c"}, {attr_f("min", -0.4f), attr_f("max", 0.9f)}),
               node("HardSigmoid", {"c"}, {"h"}, {attr_f("alpha", 0.3f), attr_f("beta", 0.4f)}),
               node("Selu", {"h"}, {"y"})},
              {tensor("B", {3, 4}, B), tensor("C", {}, C)}, {-1, 4}, 9);
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    Rng rng(3);
    Tensor x = test::random_tensor({2, 4}, rng);
    for (const KernelSet* ks : compiled_kernel_sets()) {
        Tensor y = run(*g, x, *ks);
        ASSERT_EQ(y.shape(), (Shape{2, 3}));
        for (int n = 0; n < 2; ++n)
            for (int m = 0; m < 3; ++m) {
                double v = 2.0 * 0.25;
                for (int k = 0; k < 4; ++k)
                    v += 0.5 * x[n * 4 + k] * B[static_cast<size_t>(m * 4 + k)];
                v = std::min(std::max(v, -0.4), 0.9);
                v = std::min(std::max(0.3 * v + 0.4, 0.0), 1.0);
                v = 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (std::exp(v) - 1));
                EXPECT_NEAR(y[n * 3 + m], v, 1e-5) << ks->name;
            }
    }
}

// PyTorch exports SiLU as Sigmoid and Mul: the import makes them one Silu node (in either operand
// order), and keeps a Sigmoid that another node also reads.
TEST(Onnx, SigmoidTimesItsInputIsOneSiluNode) {
    const std::vector<float> B = iota(12, 2.f, -1.f), C = {0.25f};
    auto bytes = model({node("Gemm", {"x", "B", "C"}, {"g"}, {attr_i("transB", 1)}),
                        node("Sigmoid", {"g"}, {"s1"}), node("Mul", {"g", "s1"}, {"m1"}),
                        node("Sigmoid", {"m1"}, {"s2"}), node("Mul", {"s2", "m1"}, {"m2"}),
                        node("Sigmoid", {"m2"}, {"s3"}), node("Mul", {"m2", "s3"}, {"m3"}),
                        node("Add", {"m3", "s3"}, {"y"})},
                       {tensor("B", {3, 4}, B), tensor("C", {}, C)}, {-1, 4}, 13);
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    int silu = 0, sigmoid = 0, mul = 0;
    for (int i = 0; i < g->size(); ++i) {
        silu += g->node(i).op == OpType::kSilu;
        sigmoid += g->node(i).op == OpType::kSigmoid;
        mul += g->node(i).op == OpType::kMul;
    }
    EXPECT_EQ(silu, 3);
    EXPECT_EQ(sigmoid, 1);  // s3, which the Add reads too
    EXPECT_EQ(mul, 0);
    Rng rng(5);
    Tensor x = test::random_tensor({2, 4}, rng);
    const auto silu_of = [](double v) { return v / (1 + std::exp(-v)); };
    for (const KernelSet* ks : compiled_kernel_sets()) {
        Tensor y = run(*g, x, *ks);
        ASSERT_EQ(y.shape(), (Shape{2, 3}));
        for (int n = 0; n < 2; ++n)
            for (int m = 0; m < 3; ++m) {
                double v = 0.25;
                for (int k = 0; k < 4; ++k) v += x[n * 4 + k] * B[static_cast<size_t>(m * 4 + k)];
                v = silu_of(silu_of(v));
                const double want = silu_of(v) + 1 / (1 + std::exp(-v));
                EXPECT_NEAR(y[n * 3 + m], want, 1e-5 * std::max(1.0, std::abs(want))) << ks->name;
            }
    }
}

// Direct NCHW convolution for checking Conv attributes.
std::vector<float> conv_nchw(const std::vector<float>& x, int C, int H, int W,
                             const std::vector<float>& w, int O, int KH, int KW, int s, int d,
                             int pt, int pl, int OH, int OW, int groups) {
    std::vector<float> y(static_cast<size_t>(O * OH * OW), 0.f);
    const int cg = C / groups, og = O / groups;
    for (int o = 0; o < O; ++o)
        for (int oy = 0; oy < OH; ++oy)
            for (int ox = 0; ox < OW; ++ox) {
                double acc = 0;
                for (int i = 0; i < cg; ++i)
                    for (int ky = 0; ky < KH; ++ky)
                        for (int kx = 0; kx < KW; ++kx) {
                            const int iy = oy * s - pt + ky * d, ix = ox * s - pl + kx * d;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            const int c = (o / og) * cg + i;
                            acc += x[static_cast<size_t>((c * H + iy) * W + ix)] *
                                   w[static_cast<size_t>(((o * cg + i) * KH + ky) * KW + kx)];
                        }
                y[static_cast<size_t>((o * OH + oy) * OW + ox)] = static_cast<float>(acc);
            }
    return y;
}

TEST(Onnx, ConvAutoPadGroupsAndDilations) {
    struct Case {
        std::string auto_pad;
        int s, d, groups, oh, ow, pt, pl;
    };
    // Input 1x4x7x6, kernel 3x3, stride 2: total padding 2 (H) and 1 (W); SAME_LOWER puts the odd
    // one first.
    const std::vector<Case> cases = {{"SAME_UPPER", 2, 1, 1, 4, 3, 1, 0},
                                     {"SAME_LOWER", 2, 1, 2, 4, 3, 1, 1},
                                     {"VALID", 1, 2, 4, 3, 2, 0, 0}};
    for (const Case& c : cases) {
        SCOPED_TRACE(c.auto_pad);
        const int O = 4, I = 4 / c.groups;
        const std::vector<float> w = iota(static_cast<size_t>(O * I * 9), 1.f, -0.5f);
        auto bytes = model({node("Conv", {"x", "w"}, {"y"},
                                 {attr_s("auto_pad", c.auto_pad), attr_ints("strides", {c.s, c.s}),
                                  attr_ints("dilations", {c.d, c.d}), attr_i("group", c.groups)})},
                           {tensor("w", {O, I, 3, 3}, w)}, {1, 4, 7, 6});
        auto g = import(bytes);
        ASSERT_TRUE(g) << g.status().message();
        Rng rng(9);
        std::vector<float> xn(4 * 7 * 6);
        for (float& v : xn) v = rng.uniform(-1.f, 1.f);
        Tensor x(Shape{1, 7, 6, 4});  // NHWC copy
        for (int ch = 0; ch < 4; ++ch)
            for (int yy = 0; yy < 7; ++yy)
                for (int xx = 0; xx < 6; ++xx)
                    x[(yy * 6 + xx) * 4 + ch] = xn[static_cast<size_t>((ch * 7 + yy) * 6 + xx)];
        const auto ref =
            conv_nchw(xn, 4, 7, 6, w, O, 3, 3, c.s, c.d, c.pt, c.pl, c.oh, c.ow, c.groups);
        for (const KernelSet* ks : compiled_kernel_sets()) {
            Tensor y = run(*g, x, *ks);
            ASSERT_EQ(y.shape(), (Shape{1, c.oh, c.ow, O})) << ks->name;
            for (int o = 0; o < O; ++o)
                for (int yy = 0; yy < c.oh; ++yy)
                    for (int xx = 0; xx < c.ow; ++xx)
                        EXPECT_NEAR(y[(yy * c.ow + xx) * O + o],
                                    ref[static_cast<size_t>((o * c.oh + yy) * c.ow + xx)], 1e-5)
                            << ks->name;
        }
    }
}

TEST(Onnx, ConstantsTransposeConcatAndPadAttributes) {
    // NCHW: Concat(x, Transpose(x, H<->W)) on channels, then Pad (opset 9 attributes) with 0.5,
    // then Mul by a Constant [C,1,1]. The engine holds the [1,2,4,5] result as NHWC [1,4,5,2].
    Pb k = tensor("kv", {2, 1, 1}, {2.f, -1.f});
    auto bytes =
        model({node("Transpose", {"x"}, {"t"}, {attr_ints("perm", {0, 1, 3, 2})}),
               node("Concat", {"x", "t"}, {"c"}, {attr_i("axis", 1)}),
               node("Pad", {"c"}, {"p"},
                    {attr_ints("pads", {0, 0, 1, 0, 0, 0, 0, 2}), attr_f("value", 0.5f)}),
               node("Constant", {}, {"k"}, {attr_t("value", k)}), node("Mul", {"p", "k"}, {"y"})},
              {}, {1, 1, 3, 3}, 9);
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    Tensor x(Shape{1, 3, 3, 1});
    for (int i = 0; i < 9; ++i) x[i] = static_cast<float>(i);
    Tensor y = run(*g, x);
    // y: [1, 2, 4 (H+1), 5 (W+2)]: channel 0 = 2*x, channel 1 = -x^T, padding 0.5*k.
    ASSERT_EQ(y.shape(), (Shape{1, 4, 5, 2}));
    for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 5; ++w)
            for (int c = 0; c < 2; ++c) {
                float v = 0.5f;
                if (h >= 1 && w < 3) v = c == 0 ? x[(h - 1) * 3 + w] : x[w * 3 + (h - 1)];
                EXPECT_EQ(y[(h * 5 + w) * 2 + c], v * (c == 0 ? 2.f : -1.f))
                    << h << "," << w << "," << c;
            }
}

TEST(Onnx, ShapeArithmeticIsFoldedWithASymbolicBatch) {
    // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) then Flatten of a Squeeze.
    auto bytes = model({node("Shape", {"x"}, {"s"}),
                        node("Constant", {}, {"zero"}, {attr_t("value", int_scalar("z", 0))}),
                        node("Gather", {"s", "zero"}, {"b"}, {attr_i("axis", 0)}),
                        node("Unsqueeze", {"b"}, {"bu"}, {attr_ints("axes", {0})}),
                        node("Concat", {"bu", "minus1"}, {"shape"}, {attr_i("axis", 0)}),
                        node("Cast", {"shape"}, {"shape64"}, {attr_i("to", 7)}),
                        node("Reshape", {"x", "shape64"}, {"y"})},
                       {int_tensor("minus1", {-1})}, {-1, 2, 3, 4}, 11);
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    Rng rng(1);
    Tensor x = test::random_tensor({3, 3, 4, 2}, rng);  // NHWC of NCHW [3,2,3,4]
    Tensor y = run(*g, x);
    ASSERT_EQ(y.shape(), (Shape{3, 24}));
    for (int n = 0; n < 3; ++n)
        for (int c = 0; c < 2; ++c)
            for (int h = 0; h < 3; ++h)
                for (int w = 0; w < 4; ++w)
                    EXPECT_EQ(y[n * 24 + (c * 3 + h) * 4 + w], x[((n * 3 + h) * 4 + w) * 2 + c]);
    // The batch size may not enter arithmetic.
    auto bad = model({node("Shape", {"x"}, {"s"}), node("Mul", {"s", "two"}, {"s2"}),
                      node("Reshape", {"x", "s2"}, {"y"})},
                     {int_tensor("two", {2})}, {-1, 2, 3, 4}, 11);
    auto b = import(bad);
    ASSERT_FALSE(b);
    EXPECT_NE(
        b.status().message().find("Mul node 's2': arithmetic on the batch size is not supported"),
        std::string::npos)
        << b.status().message();
}

TEST(Onnx, ConvTransposeAndGlobalMaxPoolAndMatMul) {
    // ConvTranspose (stride 2, pads 1, output_padding 1, group 2) -> GlobalMaxPool -> Flatten ->
    // MatMul
    const std::vector<float> w = iota(4 * 3 * 3 * 3, 1.f, -0.5f), m = iota(6 * 2, 1.f, -0.3f);
    auto bytes =
        model({node("ConvTranspose", {"x", "w", "b"}, {"ct"},
                    {attr_ints("strides", {2, 2}), attr_ints("pads", {1, 1, 1, 1}),
                     attr_ints("output_padding", {1, 1}), attr_i("group", 2)}),
               node("GlobalMaxPool", {"ct"}, {"gp"}), node("Flatten", {"gp"}, {"f"}),
               node("MatMul", {"f", "m"}, {"y"})},
              {tensor("w", {4, 3, 3, 3}, w),
               tensor("b", {6}, {0.1f, 0.2f, 0.3f, -0.1f, -0.2f, -0.3f}), tensor("m", {6, 2}, m)},
              {1, 4, 3, 3});
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    EXPECT_EQ(count_ops(*g, OpType::kConvTranspose), 1);
    const int ct = g->find("ct");
    ASSERT_GE(ct, 0);
    EXPECT_EQ(g->node(ct).shape, (Shape{1, 6, 6, 6}));  // (3-1)*2 - 2 + 3 + 1
    Rng rng(4);
    Tensor x = test::random_tensor({1, 3, 3, 4}, rng);
    // Direct transposed convolution in NCHW terms.
    std::vector<double> ref(6 * 6 * 6, 0.0);
    for (int o = 0; o < 6; ++o)
        for (int k = 0; k < 36; ++k)
            ref[static_cast<size_t>(o * 36 + k)] =
                std::vector<float>{0.1f, 0.2f, 0.3f, -0.1f, -0.2f, -0.3f}[static_cast<size_t>(o)];
    for (int ci = 0; ci < 4; ++ci)
        for (int iy = 0; iy < 3; ++iy)
            for (int ix = 0; ix < 3; ++ix)
                for (int j = 0; j < 3; ++j)
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            const int oy = iy * 2 - 1 + ky, ox = ix * 2 - 1 + kx,
                                      o = (ci / 2) * 3 + j;
                            if (oy < 0 || oy >= 6 || ox < 0 || ox >= 6) continue;
                            ref[static_cast<size_t>((o * 6 + oy) * 6 + ox)] +=
                                x[(iy * 3 + ix) * 4 + ci] *
                                w[static_cast<size_t>(((ci * 3 + j) * 3 + ky) * 3 + kx)];
                        }
    std::vector<double> pooled(6, -1e30);
    for (int o = 0; o < 6; ++o)
        for (int k = 0; k < 36; ++k)
            pooled[static_cast<size_t>(o)] =
                std::max(pooled[static_cast<size_t>(o)], ref[static_cast<size_t>(o * 36 + k)]);
    for (const KernelSet* ks : compiled_kernel_sets()) {
        Executor ex(*g, *ks);
        ASSERT_TRUE(ex.forward(x).is_ok());
        const Tensor& ctv = ex.value(ct);
        for (int o = 0; o < 6; ++o)
            for (int k = 0; k < 36; ++k)
                EXPECT_NEAR(ctv[k * 6 + o], ref[static_cast<size_t>(o * 36 + k)], 1e-5) << ks->name;
        const Tensor& y = ex.value(g->output());
        for (int c = 0; c < 2; ++c) {
            double v = 0;
            for (int o = 0; o < 6; ++o)
                v += pooled[static_cast<size_t>(o)] * m[static_cast<size_t>(o * 2 + c)];
            EXPECT_NEAR(y[c], v, 1e-5) << ks->name;
        }
    }
}

TEST(Onnx, ReduceMeanOverSpaceAndChannels) {
    // mean over (H, W) without keepdims -> [N, C]; then over C with keepdims -> [N, 1]
    auto bytes =
        model({node("ReduceMean", {"x"}, {"m"}, {attr_ints("axes", {2, 3}), attr_i("keepdims", 0)}),
               node("ReduceMean", {"m"}, {"y"}, {attr_ints("axes", {-1}), attr_i("keepdims", 1)})},
              {}, {-1, 3, 2, 4}, 13);
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    Rng rng(8);
    Tensor x = test::random_tensor({2, 2, 4, 3}, rng);
    Tensor y = run(*g, x);
    ASSERT_EQ(y.shape(), (Shape{2, 1}));
    for (int n = 0; n < 2; ++n) {
        double s = 0;
        for (int k = 0; k < 24; ++k) s += x[n * 24 + k];
        EXPECT_NEAR(y[n], s / 24, 1e-6);
    }
    // Over W alone without keepdims: [N, C, H] in ONNX order at the output.
    auto mixed =
        model({node("ReduceMean", {"x"}, {"y"}, {attr_ints("axes", {3}), attr_i("keepdims", 0)})},
              {}, {-1, 3, 2, 4}, 13);
    auto m = import(mixed);
    ASSERT_TRUE(m) << m.status().message();
    Tensor ym = run(*m, x);
    ASSERT_EQ(ym.shape(), (Shape{2, 3, 2}));
    for (int n = 0; n < 2; ++n)
        for (int c = 0; c < 3; ++c)
            for (int h = 0; h < 2; ++h) {
                double s = 0;
                for (int w = 0; w < 4; ++w) s += x[((n * 2 + h) * 4 + w) * 3 + c];
                EXPECT_NEAR(ym[(n * 3 + c) * 2 + h], s / 4, 1e-6);
            }
}

// --- Malformed files -----------------------------------------------------------------------

void expect_error(const Expected<Graph>& g, ErrorCode code, const std::string& text) {
    ASSERT_FALSE(g) << "expected an error containing: " << text;
    EXPECT_EQ(g.status().code(), code) << g.status().message();
    EXPECT_NE(g.status().message().find(text), std::string::npos) << g.status().message();
}

std::vector<uint8_t> tiny_relu() { return model({node("Relu", {"x"}, {"y"})}, {}, {1, 1, 2, 2}); }

TEST(OnnxErrors, TruncatedFilesNeverCrash) {
    const auto bytes = test::read_file(fixture_path("resnet48.opset17.onnx"));
    ASSERT_GT(bytes.size(), 1000u);
    int errors = 0;
    for (size_t n = 0; n < bytes.size(); n += 1 + n / 40) {
        auto g = import(
            std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
        if (!g)
            ++errors;
        else
            EXPECT_TRUE(false) << "a truncated file of " << n << " bytes imported";
    }
    EXPECT_GT(errors, 100);
    expect_error(import(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100)),
                 ErrorCode::kCorrupt, "m.onnx: ");
}

// Three flipped bits anywhere in a real model: the importer either gives a graph that validates
// and runs, or refuses with an error that names the file and says why (ASan builds also catch
// any out-of-bounds read on the way). Both outcomes occur over the trials.
TEST(OnnxErrors, FlippedBytesNeverCrash) {
    const auto bytes = test::read_file(fixture_path("act48.opset11.onnx"));
    Rng rng(77);
    int loaded = 0, refused = 0;
    for (int trial = 0; trial < 300; ++trial) {
        SCOPED_TRACE(testing::Message() << "trial " << trial);
        std::vector<uint8_t> b = bytes;
        for (int k = 0; k < 3; ++k)
            b[rng.below(static_cast<uint32_t>(b.size()))] ^=
                static_cast<uint8_t>(1u << rng.below(8));
        auto g = import(b);
        if (!g) {
            ++refused;
            const std::string& m = g.status().message();
            EXPECT_EQ(m.rfind("m.onnx", 0), 0u) << m;
            EXPECT_GT(m.size(), std::string("m.onnx: ").size()) << m;
            continue;
        }
        ++loaded;
        const Status v = g->validate();
        ASSERT_TRUE(v) << v.message();
        Tensor x(Shape{1, 48, 48, 1}, 0.5f);
        Executor ex(*g, reference_kernels());
        const Status f = ex.forward(x);
        EXPECT_TRUE(f || !f.message().empty());
    }
    EXPECT_GT(loaded, 0);
    EXPECT_GT(refused, 0);
}

TEST(OnnxErrors, WrongWireType) {
    Pb m;
    m.i(1, 8).i(7, 5);  // graph as a varint
    expect_error(
        import(m.b), ErrorCode::kCorrupt,
        "ModelProto: field 7 (graph) has wire type varint, expected length-delimited (at byte 2)");
    Pb n;  // a node whose op_type is a fixed32
    n.str(1, "x").str(2, "y").f32(4, 1.f);
    Pb g;
    g.msg(1, n);
    Pb m2;
    m2.msg(7, g).msg(8, Pb().i(2, 13));
    expect_error(import(m2.b), ErrorCode::kCorrupt,
                 "NodeProto #0: field 4 (op_type) has wire type fixed32");
}

TEST(OnnxErrors, InitializerWithTheWrongByteCount) {
    Pb t;
    t.i(1, 2).i(1, 3).i(2, 1).str(8, "conv.weight").bytes(9, std::vector<uint8_t>(20, 0));
    auto bytes = model({node("Relu", {"x"}, {"y"})}, {t}, {1, 1, 2, 2});
    expect_error(import(bytes), ErrorCode::kCorrupt,
                 "initializer 'conv.weight' (float32 [2,3]) has 20 bytes of raw_data, expected 24");
    Pb u;
    u.i(1, 4).i(2, 1).str(8, "b");
    u.tag(4, 2).varint(8);
    for (int k = 0; k < 8; ++k) u.b.push_back(0);
    expect_error(import(model({node("Relu", {"x"}, {"y"})}, {u}, {1, 1, 2, 2})),
                 ErrorCode::kCorrupt,
                 "initializer 'b' (float32 [4]) has 2 values in float_data, expected 4");
}

TEST(OnnxErrors, ExternalData) {
    Pb t;
    t.i(1, 4)
        .i(2, 1)
        .str(8, "fc.weight")
        .i(14, 1)
        .msg(13, Pb().str(1, "location").str(2, "weights.bin"));
    expect_error(import(model({node("Relu", {"x"}, {"y"})}, {t}, {1, 1, 2, 2})),
                 ErrorCode::kUnsupported,
                 "initializer 'fc.weight' keeps its data in an external file ('weights.bin')");
}

TEST(OnnxErrors, UnsupportedOpsAreListedAtOnce) {
    auto bytes =
        model({node("Relu", {"x"}, {"a"}), node("Foo", {"a"}, {"b"}, {}, "foo_1"),
               node("LSTM", {"b"}, {"c"}, {}, "rnn"), node("Foo", {"c"}, {"d"}, {}, "foo_2"),
               node("Attention", {"d"}, {"y"}, {}, "attn")},
              {}, {1, 1, 2, 2});
    // The custom-domain op is listed with its domain.
    auto g = import(bytes);
    expect_error(g, ErrorCode::kUnsupported,
                 "m.onnx: unsupported ops: Attention (1 node: attn); Foo (2 nodes: foo_1, foo_2); "
                 "LSTM (1 node: rnn)");
    Pb n = node("FusedConv", {"x"}, {"y"}, {}, "fc");
    n.str(7, "com.microsoft");
    expect_error(import(model({n}, {}, {1, 1, 2, 2})), ErrorCode::kUnsupported,
                 "com.microsoft:FusedConv (1 node: fc)");
    // Ops evaluated at import fail by name when fed from the image.
    expect_error(import(model({node("Equal", {"x", "x"}, {"y"})}, {}, {1, 1, 2, 2})),
                 ErrorCode::kUnsupported, "Equal node 'y': is only supported on constant inputs");
    // Gather of a computed tensor is a Slice when its indices are evenly spaced.
    expect_error(import(model({node("Gather", {"x", "i"}, {"y"}, {attr_i("axis", 1)})},
                              {int_tensor("i", {0, 2, 1})}, {1, 3, 2, 2})),
                 ErrorCode::kUnsupported, "Gather node 'y': indices that are not evenly spaced");
}

TEST(Onnx, GatherOfAComputedTensorIsASlice) {
    // x [1,4,2,3] (NCHW): a = x[:, 2] (a scalar index drops the axis), b = x[:, [3, 1]] (a
    // descending stride keeps it).
    auto g = import(model(
        {node("Gather", {"x", "i"}, {"a"}, {attr_i("axis", 1)}),
         node("Gather", {"x", "j"}, {"b"}, {attr_i("axis", 1)}), node("Flatten", {"a"}, {"fa"}),
         node("Flatten", {"b"}, {"fb"}), node("Concat", {"fa", "fb"}, {"y"}, {attr_i("axis", 1)})},
        {int_scalar("i", 2), int_tensor("j", {3, 1})}, {1, 4, 2, 3}));
    ASSERT_TRUE(g) << g.status().message();
    Rng rng(3);
    Tensor x = test::random_tensor({2, 2, 3, 4}, rng);  // NHWC
    Tensor y = run(*g, x);
    ASSERT_EQ(y.shape(), (Shape{2, 6 + 12}));
    auto at = [&](int n, int c, int h, int w) { return x[((n * 2 + h) * 3 + w) * 4 + c]; };
    for (int n = 0; n < 2; ++n)
        for (int h = 0; h < 2; ++h)
            for (int w = 0; w < 3; ++w) {
                EXPECT_EQ(y[n * 18 + h * 3 + w], at(n, 2, h, w));
                EXPECT_EQ(y[n * 18 + 6 + h * 3 + w], at(n, 3, h, w));
                EXPECT_EQ(y[n * 18 + 12 + h * 3 + w], at(n, 1, h, w));
            }
}

TEST(Onnx, OnlyImagesAreSpatialLayers) {
    // attn32 (read with a batch axis added): its convolutions' outputs are images, its attention
    // heads and tokens (rank 4 as well) are not, so Grad-CAM and the feature maps never take them.
    const auto bytes = test::read_file(test::source_path("tests/data/onnx/attn32.opset17.onnx"));
    auto g = import_onnx(bytes, "attn32.onnx");
    ASSERT_TRUE(g) << g.status().message();
    ASSERT_TRUE(g->validate());
    int convs = 0, heads = 0;
    for (int i = 0; i < g->size(); ++i) {
        const Node& n = g->node(i);
        if (n.op == OpType::kConv2D) {
            EXPECT_TRUE(n.image) << n.name;
            ++convs;
        }
        if (n.op == OpType::kBatchMatMul) {
            EXPECT_FALSE(n.image) << n.name;
            ++heads;
        }
        if (n.shape.rank() == 4 && n.image)
            EXPECT_TRUE(n.op == OpType::kConv2D || n.op == OpType::kInput)
                << n.name << " " << n.shape.str();
    }
    EXPECT_EQ(convs, 2);
    EXPECT_EQ(heads, 2);
}

TEST(Onnx, MaskArithmeticIsFolded) {
    // Shape arithmetic the transformers' exports do on constants: Range, Mod, Equal, Where,
    // Not, Expand, ScatterND; the result scales x.
    auto g = import(model(
        {node("Range", {"zero", "six", "one"}, {"r"}), node("Mod", {"r", "three"}, {"m"}),
         node("Equal", {"m", "zero"}, {"e"}), node("Not", {"e"}, {"ne"}),
         node("Where", {"ne", "two_f", "half_f"}, {"w"}),
         node("ScatterND", {"w", "idx", "upd"}, {"s"}), node("Expand", {"s", "shape"}, {"k"}),
         node("Mul", {"x", "k"}, {"y"})},
        {int_scalar("zero", 0), int_scalar("six", 6), int_scalar("one", 1), int_scalar("three", 3),
         tensor("two_f", {}, {2.f}), tensor("half_f", {}, {0.5f}), int_tensor("shape", {1, 1, 6}),
         [] {
             Pb t;
             t.i(1, 1).i(1, 1).i(2, 7).str(8, "idx");
             t.i(7, 4);
             return t;
         }(),
         tensor("upd", {1}, {-1.f})},
        {1, 1, 1, 6}));
    ASSERT_TRUE(g) << g.status().message();
    Tensor x({1, 1, 6, 1}, 1.f);
    Tensor y = run(*g, x);
    // r = 0..5, m = 0 1 2 0 1 2, w = 0.5 2 2 0.5 2 2, then w[4] = -1.
    const float want[6] = {0.5f, 2.f, 2.f, 0.5f, -1.f, 2.f};
    for (int k = 0; k < 6; ++k) EXPECT_EQ(y[k], want[k]) << k;
}

TEST(OnnxErrors, NanWeights) {
    auto bytes = model({node("Conv", {"x", "w"}, {"y"})}, {tensor("w", {1, 1, 1, 2}, {1.f, NAN})},
                       {1, 1, 2, 2});
    expect_error(import(bytes), ErrorCode::kCorrupt,
                 "initializer 'w' holds NaN at element 1 of [1,1,1,2]");
    auto inf =
        model({node("Conv", {"x", "w"}, {"y"})}, {tensor("w", {2}, {INFINITY, 1.f})}, {1, 1, 2, 2});
    expect_error(import(inf), ErrorCode::kCorrupt, "holds an infinite value at element 0");
}

TEST(OnnxErrors, Limits) {
    const auto bytes = test::read_file(fixture_path("vgg48.opset11.onnx"));
    OnnxLimits small;
    small.max_bytes = 1000;
    expect_error(
        import(bytes, small), ErrorCode::kOutOfRange,
        "m.onnx: the file has " + std::to_string(bytes.size()) + " bytes; the limit is 1000");
    OnnxLimits few;
    few.max_nodes = 3;
    expect_error(import(bytes, few), ErrorCode::kOutOfRange, "the graph has more than 3 nodes");
    OnnxLimits tiny;
    tiny.max_tensor_elements = 100;
    expect_error(import(bytes, tiny), ErrorCode::kOutOfRange, "has more than 100 elements");
    Pb huge;  // 2^40 elements declared
    huge.i(1, 1 << 20).i(1, 1 << 20).i(2, 1).str(8, "big");
    expect_error(import(model({node("Relu", {"x"}, {"y"})}, {huge}, {1, 1, 2, 2})),
                 ErrorCode::kOutOfRange, "initializer 'big' [1048576,1048576] has more than");
}

TEST(OnnxErrors, StructuralProblems) {
    expect_error(import({}), ErrorCode::kCorrupt, "m.onnx: the file is empty");
    expect_error(import(model({node("Relu", {"x"}, {"y"})}, {}, {1, 1, 2, 2}, 19)),
                 ErrorCode::kUnsupported, "opset 19; cnnlens reads opsets 1 to 18");
    expect_error(import(model({node("Relu", {"nope"}, {"y"})}, {}, {1, 1, 2, 2})),
                 ErrorCode::kInvalidArgument,
                 "Relu node 'y' reads 'nope', which no earlier node produces");
    expect_error(import(model({node("Relu", {"x"}, {"y"})}, {}, {1, 1, -1, 2})),
                 ErrorCode::kUnsupported, "symbolic dimension 'N' at axis 2");
    expect_error(import(model({node("Conv", {"x", "w"}, {"y"})},
                              {tensor("w", {2, 3, 1, 1}, iota(6, 1.f, 0.f))}, {1, 1, 2, 2})),
                 ErrorCode::kInvalidArgument,
                 "Conv node 'y': weights [2,3,1,1] with group 1 do not fit input [1,1,2,2]");
    expect_error(import(model({node("Pad", {"x", "p"}, {"y"}, {attr_s("mode", "wrap")})},
                              {int_tensor("p", {0, 0, 1, 1, 0, 0, 1, 1})}, {1, 1, 2, 2})),
                 ErrorCode::kUnsupported, "Pad node 'y': mode 'wrap' is not supported");
    expect_error(import(model({node("Pad", {"x", "p"}, {"y"}, {attr_s("mode", "reflect")})},
                              {int_tensor("p", {0, 0, 2, 1, 0, 0, 1, 1})}, {1, 1, 2, 2})),
                 ErrorCode::kInvalidArgument,
                 "reflect padding (2,1) on axis 1 needs more than 2 elements");
    Pb m;
    m.i(1, 8);
    expect_error(import(m.b), ErrorCode::kCorrupt, "ModelProto has no graph");
    ASSERT_TRUE(import(tiny_relu())) << import(tiny_relu()).status().message();
}

// --- Several inputs and outputs, inputs given as values (`cnnlens run`, the node tests) -------

// A graph with inputs `ins` (float32, fixed dims) and float32 outputs `outs`.
std::vector<uint8_t> graph_model(
    const std::vector<Pb>& nodes,
    const std::vector<std::pair<std::string, std::vector<int64_t>>>& ins,
    const std::vector<std::string>& outs, int64_t in_type = 1) {
    Pb g;
    for (const Pb& n : nodes) g.msg(1, n);
    g.str(2, "test");
    for (const auto& [name, dims] : ins) {
        Pb vi = value_info(name, dims);
        if (in_type != 1 && name == ins.back().first) {  // the last input gets in_type
            Pb shape;
            for (int64_t d : dims) shape.msg(1, Pb().i(1, d));
            Pb tt;
            tt.i(1, in_type).msg(2, shape);
            vi = Pb().str(1, name).msg(2, Pb().msg(1, tt));
        }
        g.msg(11, vi);
    }
    for (const std::string& o : outs) g.msg(12, value_info(o, {}));
    Pb m;
    m.i(1, 8).str(2, "test").msg(7, g).msg(8, Pb().str(1, "").i(2, 13));
    return m.b;
}

std::vector<float> ramp(size_t n) {
    std::vector<float> v(n);
    for (size_t k = 0; k < n; ++k) v[k] = static_cast<float>(k);
    return v;
}

void expect_error(const Status& s, ErrorCode code, const std::string& text) {
    ASSERT_FALSE(s) << "expected an error containing: " << text;
    EXPECT_EQ(s.code(), code) << s.message();
    EXPECT_NE(s.message().find(text), std::string::npos) << s.message();
}

void expect_error(const Expected<OnnxTensor>& t, ErrorCode code, const std::string& text) {
    ASSERT_FALSE(t) << "expected an error containing: " << text;
    expect_error(t.status(), code, text);
}

OnnxTensor given_tensor(const std::string& name, std::vector<int64_t> dims, std::vector<float> f) {
    OnnxTensor t;
    t.name = name;
    t.dims = std::move(dims);
    t.f = std::move(f);
    return t;
}

TEST(OnnxInputsOutputs, TwoInputsTwoOutputsWithGradients) {
    const auto bytes = graph_model({node("Add", {"a", "b"}, {"s"}), node("Relu", {"a"}, {"r"})},
                                   {{"a", {2, 3}}, {"b", {2, 3}}}, {"s", "r"});
    auto g = import(bytes);
    ASSERT_TRUE(g) << g.status().message();
    ASSERT_EQ(g->inputs().size(), 2u);
    ASSERT_EQ(g->outputs().size(), 2u);
    EXPECT_EQ(g->node(g->inputs()[1]).name, "b");
    EXPECT_EQ(g->output_name(0), "s");
    EXPECT_EQ(g->output_name(1), "r");
    std::vector<Tensor> in;
    in.emplace_back(Shape{2, 3});
    in.emplace_back(Shape{2, 3});
    for (int64_t i = 0; i < 6; ++i)
        in[0][i] = static_cast<float>(i) - 2.5f, in[1][i] = 10.f * static_cast<float>(i);
    Executor ex(*g, reference_kernels());
    ASSERT_TRUE(ex.forward(std::span<const Tensor>(in)));
    for (int64_t i = 0; i < 6; ++i) {
        EXPECT_EQ(ex.value(g->outputs()[0])[i], in[0][i] + in[1][i]);
        EXPECT_EQ(ex.value(g->outputs()[1])[i], std::max(0.f, in[0][i]));
    }
    // d(sum s + sum r)/da = 1 + [a > 0], d/db = 1
    std::vector<Seed> seeds;
    seeds.push_back({g->outputs()[0], Tensor(Shape{2, 3}, 1.f)});
    seeds.push_back({g->outputs()[1], Tensor(Shape{2, 3}, 1.f)});
    std::vector<Tensor> grads;
    ASSERT_TRUE(ex.backward(seeds, g->inputs(), ReluRule::kStandard, grads));
    for (int64_t i = 0; i < 6; ++i) {
        EXPECT_EQ(grads[0][i], in[0][i] > 0 ? 2.f : 1.f);
        EXPECT_EQ(grads[1][i], 1.f);
    }
    expect_error(ex.forward(std::span<const Tensor>(in.data(), 1)), ErrorCode::kInvalidArgument,
                 "the model has 2 inputs, 1 tensors were given");
}

TEST(OnnxInputsOutputs, GivenValuesServeAsConstants) {
    // An int64 shape input becomes a constant; a float input in a weight position is bound to its
    // value and left out of the graph's inputs.
    const auto reshape = graph_model({node("Reshape", {"x", "shape"}, {"y"})},
                                     {{"x", {2, 3, 4}}, {"shape", {2}}}, {"y"}, 7);
    expect_error(import(reshape), ErrorCode::kUnsupported,
                 "input 'shape' has type int64; the engine holds float32 only");
    OnnxTensor shape;
    shape.name = "shape";
    shape.dtype = kOnnxInt64;
    shape.dims = {2};
    shape.i = {0, 12};  // 0 copies the batch
    std::vector<OnnxTensor> given{shape};
    auto g = import_onnx(reshape, "m.onnx", {}, given);
    ASSERT_TRUE(g) << g.status().message();
    ASSERT_EQ(g->inputs().size(), 1u);
    EXPECT_EQ(g->node(g->output()).shape, (Shape{1, 12}));

    const auto conv = graph_model({node("Conv", {"x", "w"}, {"y"})},
                                  {{"x", {1, 2, 3, 3}}, {"w", {1, 2, 1, 1}}}, {"y"});
    expect_error(import(conv), ErrorCode::kUnsupported,
                 "the weights (input 1, 'w') must be a constant");
    given = {given_tensor("w", {1, 2, 1, 1}, {2.f, -1.f})};
    auto c = import_onnx(conv, "m.onnx", {}, given);
    ASSERT_TRUE(c) << c.status().message();
    ASSERT_EQ(c->inputs().size(), 1u);
    OnnxTensor x = given_tensor("x", {1, 2, 3, 3}, ramp(18));
    Executor ex(*c, reference_kernels());
    ASSERT_TRUE(ex.forward(onnx_to_engine(x)));
    const OnnxTensor y = engine_to_onnx(ex.value(c->output()), "y");
    ASSERT_EQ(y.dims, (std::vector<int64_t>{1, 1, 3, 3}));
    for (int64_t i = 0; i < 9; ++i)
        EXPECT_EQ(y.f[static_cast<size_t>(i)],
                  2.f * x.f[static_cast<size_t>(i)] - x.f[static_cast<size_t>(9 + i)]);

    const auto rank1 = graph_model({node("Relu", {"v"}, {"y"})}, {{"v", {5}}}, {"y"});
    auto r1 = import(rank1);  // no batch axis: the graph is read with one added
    ASSERT_TRUE(r1) << r1.status().message();
    EXPECT_TRUE(r1->batch_added());
    EXPECT_EQ(r1->node(r1->input()).shape, (Shape{-1, 5}));
    const auto rank7 =
        graph_model({node("Relu", {"v"}, {"y"})}, {{"v", {1, 1, 1, 1, 1, 1, 1, 1, 1}}}, {"y"});
    expect_error(import(rank7), ErrorCode::kUnsupported,
                 "input 'v' has shape [1,1,1,1,1,1,1,1,1]; the engine needs a batch axis and at "
                 "most 8 axes");
}

TEST(OnnxTensorFiles, RoundTripAndErrors) {
    const std::vector<float> v = iota(24, -3.f, 0.5f);
    const std::vector<uint8_t> pb = encode_tensor_proto("out", {2, 3, 4}, v);
    auto t = read_tensor_proto(pb, "out.pb");
    ASSERT_TRUE(t) << t.status().message();
    EXPECT_EQ(t->name, "out");
    EXPECT_EQ(t->dims, (std::vector<int64_t>{2, 3, 4}));
    EXPECT_EQ(t->f, v);
    // NCHW <-> NHWC at the boundary.
    OnnxTensor x = given_tensor("x", {2, 3, 2, 2}, ramp(24));
    Tensor e = onnx_to_engine(x);
    EXPECT_EQ(e.shape(), (Shape{2, 2, 2, 3}));
    EXPECT_EQ(e[1], 4.f);  // n0 h0 w0 c1 = NCHW element 4
    EXPECT_EQ(engine_to_onnx(e, "x").f, x.f);

    std::vector<uint8_t> cut(pb.begin(), pb.end() - 5);
    expect_error(read_tensor_proto(cut, "cut.pb"), ErrorCode::kCorrupt, "cut.pb: TensorProto");
    Pb wrong;  // 6 elements declared, 2 stored
    wrong.i(1, 2).i(1, 3).i(2, 1).str(8, "w").f32(4, 1.f).f32(4, 2.f);
    expect_error(read_tensor_proto(wrong.b, "w.pb"), ErrorCode::kCorrupt,
                 "w.pb: tensor 'w' (float32 [2,3]) has 2 values in float_data, expected 6");
    Pb neg;
    neg.i(1, -4).i(2, 1).str(8, "n");
    expect_error(read_tensor_proto(neg.b, "n.pb"), ErrorCode::kCorrupt,
                 "n.pb: tensor 'n' has dimension -4 in [-4]");
    Pb str;
    str.i(1, 1).i(2, 8).str(8, "s");
    expect_error(read_tensor_proto(str.b, "s.pb"), ErrorCode::kUnsupported,
                 "s.pb: tensor 's' has data type string");
    expect_error(read_tensor_proto({}, "e.pb"), ErrorCode::kCorrupt, "e.pb: the file is empty");
}

TEST(Onnx, SplitOfAComputedTensorAtEveryOpset) {
    // Split channels [2, 4] and swap the halves: sizes as an attribute (opset 11), as an input
    // (13), and equal parts from num_outputs (18, [3, 3]).
    for (int opset : {11, 13, 18}) {
        SCOPED_TRACE(opset);
        std::vector<Pb> attrs{attr_i("axis", 1)};
        std::vector<std::string> ins{"x"};
        std::vector<Pb> inits;
        if (opset == 11) attrs.push_back(attr_ints("split", {2, 4}));
        if (opset == 13) {
            ins.push_back("s");
            inits.push_back(int_tensor("s", {2, 4}));
        }
        if (opset == 18) attrs.push_back(attr_i("num_outputs", 2));
        auto g = import(model({node("Split", ins, {"a", "b"}, attrs),
                               node("Concat", {"b", "a"}, {"y"}, {attr_i("axis", 1)})},
                              inits, {-1, 6, 2, 3}, opset));
        ASSERT_TRUE(g) << g.status().message();
        EXPECT_EQ(count_ops(*g, OpType::kSlice), 2);
        Rng rng(5);
        Tensor x = test::random_tensor({2, 2, 3, 6}, rng);
        Tensor y = run(*g, x);
        ASSERT_EQ(y.shape(), x.shape());
        const int first = opset == 18 ? 3 : 2;
        for (int64_t p = 0; p < 12; ++p)
            for (int c = 0; c < 6; ++c) EXPECT_EQ(y[p * 6 + c], x[p * 6 + (c + first) % 6]);
    }
    expect_error(import(model({node("Split", {"x"}, {"a", "b"},
                                    {attr_i("axis", 1), attr_ints("split", {2, 5})}),
                               node("Add", {"a", "b"}, {"y"})},
                              {}, {1, 6, 2, 3}, 11)),
                 ErrorCode::kInvalidArgument,
                 "Split node 'a': split sizes [2,5] do not fit axis 1 of [1,6,2,3]");
}

// NCHW element (c, h, w) of a batch-1 NHWC engine tensor of H x W x C.
float nchw_at(const Tensor& t, int c, int h, int w) {
    return t[(h * t.shape()[2] + w) * t.shape()[3] + c];
}

TEST(Onnx, OpsetsBeforeNineReadAsNineOrAreRefusedByName) {
    Rng rng(21);
    Tensor x = test::random_tensor({1, 2, 3, 2}, rng);  // NCHW [1,2,2,3]
    const std::vector<float> b = {0.5f, -2.f}, slope = {0.1f, 0.3f};
    // Opset 6: Add with broadcast = 1 and axis = 1 adds per channel; PRelu's slope of C values
    // is per channel; Upsample-1 reads height_scale and width_scale.
    auto g = import(model(
        {node("Add", {"x", "b"}, {"a"}, {attr_i("broadcast", 1), attr_i("axis", 1)}),
         node("PRelu", {"a", "s"}, {"p"}, {attr_ints("consumed_inputs", {0})}),
         node("Upsample", {"p"}, {"y"}, {attr_f("height_scale", 2.f), attr_f("width_scale", 1.f)})},
        {tensor("b", {2}, b), tensor("s", {2}, slope)}, {1, 2, 2, 3}, 6));
    ASSERT_TRUE(g) << g.status().message();
    Tensor y = run(*g, x);
    ASSERT_EQ(y.shape(), (Shape{1, 4, 3, 2}));
    for (int c = 0; c < 2; ++c)
        for (int h = 0; h < 4; ++h)
            for (int w = 0; w < 3; ++w) {
                const float a = nchw_at(x, c, h / 2, w) + b[static_cast<size_t>(c)];
                EXPECT_FLOAT_EQ(nchw_at(y, c, h, w), a > 0 ? a : slope[static_cast<size_t>(c)] * a)
                    << c << h << w;
            }
    // Opset 8: Upsample-7's scales attribute. Opset 4: Reshape's shape attribute. Opset 1: Pad's
    // paddings.
    auto up = import(model(
        {node("Upsample", {"x"}, {"y"},
              {attr_f("unused", 0.f),
               Pb().str(1, "scales").i(20, 6).f32(7, 1.f).f32(7, 1.f).f32(7, 1.f).f32(7, 2.f)})},
        {}, {1, 2, 2, 3}, 8));
    ASSERT_TRUE(up) << up.status().message();
    Tensor yu = run(*up, x);
    ASSERT_EQ(yu.shape(), (Shape{1, 2, 6, 2}));
    EXPECT_EQ(nchw_at(yu, 1, 1, 5), nchw_at(x, 1, 1, 2));
    auto rs = import(model(
        {node("Reshape", {"x"}, {"r"}, {attr_ints("shape", {0, -1})}),
         node("Pad", {"r"}, {"y"}, {attr_ints("paddings", {0, 1, 0, 2}), attr_f("value", 9.f)})},
        {}, {1, 2, 2, 3}, 1));
    ASSERT_TRUE(rs) << rs.status().message();
    Tensor yr = run(*rs, x);
    ASSERT_EQ(yr.shape(), (Shape{1, 15}));
    EXPECT_EQ(yr[0], 9.f);
    EXPECT_EQ(yr[1 + 4], nchw_at(x, 0, 1, 1));
    EXPECT_EQ(yr[14], 9.f);
    // Opset 5: Cast-1 names its type ("FLOAT": 7 / 2 is 3.5), Selu-1 has its own defaults.
    Pb seven = Pb().i(2, 7).str(8, "seven").i(7, 7), two = Pb().i(2, 7).str(8, "two").i(7, 2);
    auto cs = import(model(
        {node("Cast", {"seven"}, {"f"}, {attr_s("to", "FLOAT")}), node("Div", {"f", "two"}, {"h"}),
         node("Mul", {"x", "h"}, {"m"}, {attr_i("broadcast", 1)}), node("Selu", {"m"}, {"y"})},
        {seven, two}, {1, 2, 2, 3}, 5));
    ASSERT_TRUE(cs) << cs.status().message();
    Tensor yc = run(*cs, x);
    for (int64_t i = 0; i < x.size(); ++i) {
        const double v = 3.5 * x[i];
        EXPECT_NEAR(yc[i], 1.0507 * (v > 0 ? v : 1.6732 * (std::exp(v) - 1)), 1e-5);
    }
    // Forms that differ are refused, naming the node and the attribute.
    const std::vector<Pb> bn_params = {tensor("sc", {2}, {1.f, 1.f}), tensor("bi", {2}, {0.f, 0.f}),
                                       tensor("mu", {2}, {0.f, 0.f}),
                                       tensor("va", {2}, {1.f, 1.f})};
    expect_error(
        import(model({node("BatchNormalization", {"x", "sc", "bi", "mu", "va"}, {"y"})}, bn_params,
                     {1, 2, 2, 3}, 6)),
        ErrorCode::kUnsupported,
        "BatchNormalization node 'y': is_test = 0 (training mode in opset 6) is not supported");
    expect_error(
        import(model({node("Dropout", {"x"}, {"y"}, {attr_i("is_test", 0)})}, {}, {1, 2, 2, 3}, 6)),
        ErrorCode::kUnsupported, "Dropout node 'y': is_test = 0");
    ASSERT_TRUE(import(
        model({node("Dropout", {"x"}, {"y"}, {attr_i("is_test", 1)})}, {}, {1, 2, 2, 3}, 6)));
    expect_error(import(model({node("BatchNormalization", {"x", "sc", "bi", "mu", "va"}, {"y"},
                                    {attr_i("spatial", 0)})},
                              bn_params, {1, 2, 2, 3}, 8)),
                 ErrorCode::kUnsupported,
                 "BatchNormalization node 'y': spatial = 0 (statistics per activation, before "
                 "opset 9) is not supported");
    expect_error(
        import(model(
            {node("ReduceMean", {"x"}, {"r"}, {attr_ints("axes", {2, 3}), attr_i("keepdims", 0)}),
             node("Add", {"x", "r"}, {"y"}, {attr_i("broadcast", 1), attr_i("axis", 0)})},
            {}, {1, 2, 2, 3}, 6)),
        ErrorCode::kUnsupported,
        "Add node 'y': broadcast = 1 with axis = 0 aligns the computed operand 'r' [1,2] inside "
        "[1,2,2,3]");
    expect_error(import(model({node("PRelu", {"x", "s"}, {"y"})},
                              {tensor("s", {3}, {0.1f, 0.2f, 0.3f})}, {1, 2, 2, 3}, 6)),
                 ErrorCode::kUnsupported,
                 "PRelu node 'y': slope [3] has neither 1 value nor one per channel of [1,2,2,3]");
    expect_error(
        import(model({node("ConvTranspose", {"x", "w"}, {"y"},
                           {attr_ints("strides", {2, 2}), attr_ints("output_shape", {4, 5})})},
                     {tensor("w", {2, 1, 2, 2}, iota(8, 1.f, 0.f))}, {1, 2, 2, 3}, 8)),
        ErrorCode::kUnsupported, "ConvTranspose node 'y': the total padding 1 of axis 3 is odd");
}

TEST(Onnx, PreluSlopeBroadcastsOverAnyAxisButTheBatch) {
    Rng rng(22);
    Tensor x = test::random_tensor({1, 2, 3, 2}, rng);  // NCHW [1,2,2,3]
    const std::vector<float> slope = {0.1f, 0.7f};      // [2,1]: per row h
    auto g = import(
        model({node("PRelu", {"x", "s"}, {"y"})}, {tensor("s", {2, 1}, slope)}, {-1, 2, 2, 3}, 16));
    ASSERT_TRUE(g) << g.status().message();
    Tensor y = run(*g, x);
    for (int c = 0; c < 2; ++c)
        for (int h = 0; h < 2; ++h)
            for (int w = 0; w < 3; ++w) {
                const float v = nchw_at(x, c, h, w);
                EXPECT_FLOAT_EQ(nchw_at(y, c, h, w), v > 0 ? v : slope[static_cast<size_t>(h)] * v);
            }
    expect_error(import(model({node("PRelu", {"x", "s"}, {"y"})},
                              {tensor("s", {2, 1, 1, 1}, slope)}, {-1, 2, 2, 3}, 16)),
                 ErrorCode::kUnsupported,
                 "PRelu node 'y': slope [2,1,1,1] varies along the batch axis of [1,2,2,3]");
    expect_error(import(model({node("PRelu", {"x", "s"}, {"y"})},
                              {tensor("s", {4}, iota(4, 1.f, 0.f))}, {-1, 2, 2, 3}, 16)),
                 ErrorCode::kInvalidArgument,
                 "PRelu node 'y': slope [4] does not broadcast to [1,2,2,3]");
}

TEST(OnnxInputsOutputs, LayerNormalizationMeanAndInvStdDevHaveGradients) {
    // x [N,2,3] normalized over its last two axes; Mean and InvStdDev are [N,1,1].
    const auto bytes = graph_model({node("LayerNormalization", {"x", "w"}, {"y", "mean", "inv"},
                                         {attr_i("axis", 1), attr_f("epsilon", 0.25f)})},
                                   {{"x", {2, 2, 3}}, {"w", {2, 3}}}, {"y", "mean", "inv"});
    std::vector<OnnxTensor> given{given_tensor("w", {2, 3}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f})};
    auto g = import_onnx(bytes, "m.onnx", {}, given);
    ASSERT_TRUE(g) << g.status().message();
    ASSERT_EQ(g->outputs().size(), 3u);
    Rng rng(23);
    std::vector<Tensor> in;
    in.push_back(test::random_tensor({2, 2, 3}, rng));
    Executor ex(*g, reference_kernels());
    ASSERT_TRUE(ex.forward(std::span<const Tensor>(in)));
    EXPECT_EQ(ex.value(g->outputs()[1]).shape(), (Shape{2, 1, 1}));
    std::vector<double> mean(2), inv(2);
    for (int n = 0; n < 2; ++n) {
        double s = 0, v = 0;
        for (int k = 0; k < 6; ++k) s += in[0][n * 6 + k];
        mean[static_cast<size_t>(n)] = s / 6;
        for (int k = 0; k < 6; ++k) v += std::pow(in[0][n * 6 + k] - s / 6, 2);
        inv[static_cast<size_t>(n)] = 1 / std::sqrt(v / 6 + 0.25);
        EXPECT_NEAR(ex.value(g->outputs()[1])[n], mean[static_cast<size_t>(n)], 1e-6);
        EXPECT_NEAR(ex.value(g->outputs()[2])[n], inv[static_cast<size_t>(n)], 1e-6);
    }
    // d inv / d x_k = -inv^3 (x_k - mean) / 6
    std::vector<Seed> seeds;
    seeds.push_back({g->outputs()[2], Tensor(Shape{2, 1, 1}, 1.f)});
    std::vector<Tensor> grads;
    ASSERT_TRUE(ex.backward(seeds, g->inputs(), ReluRule::kStandard, grads));
    for (int n = 0; n < 2; ++n)
        for (int k = 0; k < 6; ++k)
            EXPECT_NEAR(grads[0][n * 6 + k],
                        -std::pow(inv[static_cast<size_t>(n)], 3) *
                            (in[0][n * 6 + k] - mean[static_cast<size_t>(n)]) / 6,
                        1e-5);
}

TEST(OnnxInputsOutputs, AGraphWhoseFirstAxisIsDataGetsABatchAxis) {
    // x [3,4]: Transpose -> [4,3], Softmax over axis 0 (4 values), Gemm with transA (back to
    // [3,...]) and a bias that varies along the rows. Axis 0 is data everywhere, so the engine
    // holds x as [1,3,4] and the model's tensors at the boundary leave that axis out.
    const std::vector<float> w = {1.f, -2.f, 0.5f, 3.f},
                             c = {0.1f, 0.2f, 0.3f};  // w [4,1], c [3,1]
    const auto bytes = graph_model(
        {node("Transpose", {"x"}, {"t"}, {attr_ints("perm", {1, 0})}),
         node("Softmax", {"t"}, {"s"}, {attr_i("axis", 0)}),
         node("Gemm", {"s", "w", "c"}, {"y"}, {attr_i("transA", 1), attr_f("beta", 2.f)})},
        {{"x", {3, 4}}, {"w", {4, 1}}, {"c", {3, 1}}}, {"y"});
    std::vector<OnnxTensor> given{given_tensor("w", {4, 1}, w), given_tensor("c", {3, 1}, c)};
    auto g = import_onnx(bytes, "m.onnx", {}, given);
    ASSERT_TRUE(g) << g.status().message();
    EXPECT_TRUE(g->batch_added());
    ASSERT_EQ(g->inputs().size(), 1u);
    EXPECT_EQ(g->node(g->inputs()[0]).shape, (Shape{-1, 3, 4}));
    const OnnxTensor xo = given_tensor(
        "x", {3, 4}, {0.1f, -0.4f, 0.9f, 0.3f, -1.f, 0.2f, 0.5f, 0.7f, 0.f, 0.6f, -0.3f, 0.8f});
    std::vector<Tensor> in;
    in.push_back(onnx_to_engine(xo, true));
    EXPECT_EQ(in[0].shape(), (Shape{1, 3, 4}));
    Executor ex(*g, reference_kernels());
    ASSERT_TRUE(ex.forward(std::span<const Tensor>(in)));
    const OnnxTensor y = engine_to_onnx(ex.value(g->output()), "y", true);
    ASSERT_EQ(y.dims, (std::vector<int64_t>{3, 1}));
    for (int i = 0; i < 3; ++i) {  // y[i] = sum_j softmax_j(x[i, :]) w[j] + 2 c[i]
        double z = 0, acc = 0;
        for (int j = 0; j < 4; ++j) z += std::exp(xo.f[static_cast<size_t>(i * 4 + j)]);
        for (int j = 0; j < 4; ++j)
            acc += std::exp(xo.f[static_cast<size_t>(i * 4 + j)]) / z * w[static_cast<size_t>(j)];
        EXPECT_NEAR(y.f[static_cast<size_t>(i)], acc + 2 * c[static_cast<size_t>(i)], 1e-6) << i;
    }
    // A graph that reads fine with its first axis as the batch keeps it.
    auto plain = import(model({node("Relu", {"x"}, {"y"})}, {}, {-1, 3, 4}));
    ASSERT_TRUE(plain) << plain.status().message();
    EXPECT_FALSE(plain->batch_added());
    // An image model of batch 1 that then moves its batch axis (as a transformer folds it into
    // its heads): read with a batch axis added, its Conv still runs on the NHWC image.
    const auto conv_swap =
        model({node("Conv", {"x", "w"}, {"c"}),
               node("Transpose", {"c"}, {"y"}, {attr_ints("perm", {1, 0, 2, 3})})},
              {tensor("w", {2, 3, 1, 1}, {1.f, 2.f, 3.f, -1.f, 0.5f, 0.f})}, {1, 3, 2, 2});
    auto swapped = import(conv_swap);
    ASSERT_TRUE(swapped) << swapped.status().message();
    EXPECT_TRUE(swapped->batch_added());
    EXPECT_EQ(swapped->node(swapped->inputs()[0]).shape, (Shape{-1, 2, 2, 3}));  // the image, NHWC
    Rng rng(9);
    const Tensor img = test::random_tensor({2, 2, 2, 3}, rng);  // two images
    Executor sx(*swapped, reference_kernels());
    ASSERT_TRUE(sx.forward(std::span<const Tensor>(&img, 1)));
    const Tensor& ys = sx.value(swapped->output());
    ASSERT_EQ(ys.shape(), (Shape{2, 2, 1, 2, 2}));  // per image: ONNX [2,1,2,2]
    const float wv[2][3] = {{1.f, 2.f, 3.f}, {-1.f, 0.5f, 0.f}};
    for (int n = 0; n < 2; ++n)
        for (int o = 0; o < 2; ++o)
            for (int p = 0; p < 4; ++p) {
                double want = 0;
                for (int c = 0; c < 3; ++c) want += wv[o][c] * img[(n * 4 + p) * 3 + c];
                EXPECT_NEAR(ys[(n * 2 + o) * 4 + p], want, 1e-6) << n << " " << o << " " << p;
            }
    // When neither reading works (a batch of 2 fixed in the file), the error is the first
    // reading's.
    expect_error(import(model({node("Conv", {"x", "w"}, {"c"}),
                               node("Transpose", {"c"}, {"y"}, {attr_ints("perm", {1, 0, 2, 3})})},
                              {tensor("w", {2, 3, 1, 1}, iota(6, 1.f, 0.f))}, {2, 3, 2, 2})),
                 ErrorCode::kUnsupported,
                 "Transpose node 'y': moving the batch axis is not supported (perm [1,0,2,3])");
}

}  // namespace
}  // namespace cnnlens
