// ONNX's backend node tests (ONNX 1.12, Debian's libonnx-testdata) for the ops cnnlens imports:
// every test in the folder named by CNNLENS_ONNX_NODE_DIR whose model is one node of an op in
// kScope either passes or is listed, with the reason, in tests/data/onnx_conformance/skips.txt.
//
// Passing means, on every compiled kernel set: the import succeeds, every output matches
// output_N.pb at ONNX's backend-runner tolerance (|got - want| <= 1e-7 + 1e-3 |want|), and the
// VJP with respect to every runtime input agrees with central finite differences, element by
// element (up to kMaxGradElements per input), of a random projection of the outputs. A reason is
// the importer's own error (an op not imported becomes "op X is not imported"), so the list
// changes when the importer does: a test that is neither passing nor listed fails the suite, and
// so does a listed test that passes or is skipped for another reason. CNNLENS_CONFORMANCE_UPDATE=1
// rewrites the list from the run instead; the per-op table of docs/conformance.md is printed either
// way.
//
// Without the folder the test is skipped, except under CI (CI set), where it fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/graph/executor.h"
#include "core/import/model.h"
#include "core/import/onnx/onnx_graph.h"
#include "tests/test_util.h"

namespace cnnlens {
namespace {

namespace fs = std::filesystem;

// The ops whose node tests are checked (a model of one node of one of these, Constant nodes aside).
const std::set<std::string> kScope = {"AveragePool",
                                      "MaxPool",
                                      "Conv",
                                      "ConvTranspose",
                                      "BatchNormalization",
                                      "Gemm",
                                      "MatMul",
                                      "Concat",
                                      "Clip",
                                      "Pad",
                                      "Resize",
                                      "LayerNormalization",
                                      "Split",
                                      "Slice",
                                      "Softmax",
                                      "LogSoftmax",
                                      "Reshape",
                                      "Flatten",
                                      "Transpose",
                                      "Squeeze",
                                      "Unsqueeze",
                                      "Relu",
                                      "LeakyRelu",
                                      "PRelu",
                                      "Elu",
                                      "Selu",
                                      "Sigmoid",
                                      "Tanh",
                                      "HardSigmoid",
                                      "HardSwish",
                                      "Erf",
                                      "Gelu",
                                      "Add",
                                      "Sub",
                                      "Mul",
                                      "Div",
                                      "ReduceMean",
                                      "GlobalAveragePool",
                                      "GlobalMaxPool",
                                      "Identity",
                                      "Dropout"};

constexpr double kRtol = 1e-3, kAtol = 1e-7;  // onnx/backend/test/runner
constexpr int64_t kMaxGradElements = 96;      // checked per input (a random subset beyond)

struct ModelInfo {
    std::string op;  // the one non-Constant node's op_type, empty when there are several
    std::vector<std::string> inputs, outputs;
};

// The op, input names and output names of a ModelProto (initializers are not graph inputs in
// these tests).
ModelInfo model_info(const std::vector<uint8_t>& bytes) {
    ModelInfo info;
    int ops = 0;
    pb::PbReader r(bytes, "ModelProto");
    pb::PbField f;
    while (r.more() && r.next(f)) {
        if (f.number != 7 || f.wire != pb::WireType::kLengthDelimited) continue;
        pb::PbReader g = r.sub(f, "GraphProto");
        pb::PbField h;
        while (g.more() && g.next(h)) {
            if (h.wire != pb::WireType::kLengthDelimited) continue;
            pb::PbReader m = g.sub(h, "message");
            pb::PbField e;
            std::string text;
            while (m.more() && m.next(e)) {
                const uint32_t want =
                    h.number == 1 ? 4 : 1;  // NodeProto.op_type, ValueInfoProto.name
                if (e.number == want && !pb::read_string(m, e, "text", text)) text.clear();
            }
            if (h.number == 1 && text != "Constant") info.op = ++ops == 1 ? text : "";
            if (h.number == 11) info.inputs.push_back(text);
            if (h.number == 12) info.outputs.push_back(text);
        }
    }
    return info;
}

// "<file>: unsupported ops: Erf (1 node: y)" -> "op Erf is not imported"; other errors lose the
// file name only.
std::string reason_of(const Status& s, const std::string& file) {
    std::string m = s.message();
    if (m.rfind(file + ": ", 0) == 0) m = m.substr(file.size() + 2);
    const std::string prefix = "unsupported ops: ";
    if (m.rfind(prefix, 0) != 0) return m;
    std::vector<std::string> ops;
    for (size_t at = prefix.size(); at < m.size();) {
        const size_t paren = m.find(" (", at);
        if (paren == std::string::npos) break;
        ops.push_back(m.substr(at, paren - at));
        const size_t next = m.find("; ", paren);
        at = next == std::string::npos ? m.size() : next + 2;
    }
    std::string list;
    for (size_t k = 0; k < ops.size(); ++k) list += (k ? ", " : "") + ops[k];
    return (ops.size() == 1 ? "op " : "ops ") + list + (ops.size() == 1 ? " is" : " are") +
           " not imported";
}

struct Outcome {
    enum Kind { kPass, kSkip, kFail } kind = kPass;
    std::string text;  // skip reason or failure
};

Expected<OnnxTensor> read_pb(const fs::path& p) {
    std::vector<uint8_t> bytes = test::read_file(p.string());
    return read_tensor_proto(bytes, p.filename().string());
}

// f = sum_k <r_k, y_k> over the outputs, in double.
double projection(const Executor& ex, const Graph& g, const std::vector<Tensor>& r) {
    double s = 0;
    for (size_t k = 0; k < g.outputs().size(); ++k) {
        const Tensor& y = ex.value(g.outputs()[k]);
        for (int64_t i = 0; i < y.size(); ++i) s += static_cast<double>(y[i]) * r[k][i];
    }
    return s;
}

// The VJP of every runtime input against finite differences of the projection. Each checked
// element must match the central difference or, next to a kink (ReLU at 0, a max-pool tie, a
// clip bound within the step), one of the one-sided ones.
std::string check_gradients(const Graph& g, const KernelSet& ks, std::vector<Tensor>& inputs,
                            uint64_t seed) {
    Executor ex(g, ks);
    if (Status s = ex.forward(std::span<const Tensor>(inputs)); !s) return s.message();
    Rng rng(seed);
    std::vector<Tensor> r;
    std::vector<Seed> seeds;
    for (int o : g.outputs()) {
        r.push_back(test::random_tensor(ex.value(o).shape(), rng));
        seeds.push_back({o, r.back().clone()});
    }
    std::vector<Tensor> grads;
    if (Status s = ex.backward(seeds, g.inputs(), ReluRule::kStandard, grads); !s)
        return s.message();
    const double f0 = projection(ex, g, r);
    for (size_t k = 0; k < inputs.size(); ++k) {
        Tensor& x = inputs[k];
        double gmax = 0;
        for (int64_t i = 0; i < x.size(); ++i)
            gmax = std::max(gmax, std::abs(static_cast<double>(grads[k][i])));
        std::vector<int64_t> idx;
        for (int64_t i = 0; i < x.size(); ++i) idx.push_back(i);
        for (size_t i = 0; i + 1 < idx.size() && static_cast<int64_t>(i) < kMaxGradElements; ++i)
            std::swap(idx[i], idx[i + rng.below(static_cast<uint32_t>(idx.size() - i))]);
        if (static_cast<int64_t>(idx.size()) > kMaxGradElements) idx.resize(kMaxGradElements);
        for (int64_t i : idx) {
            const float xi = x[i];
            // An absolute step: softmax of 10000 + x is the softmax of x. The step actually
            // taken (float rounding) divides the differences.
            const float h = 1e-2f;
            x[i] = xi + h;
            if (Status s = ex.forward(std::span<const Tensor>(inputs)); !s) return s.message();
            const double fp = projection(ex, g, r);
            x[i] = xi - h;
            if (Status s = ex.forward(std::span<const Tensor>(inputs)); !s) return s.message();
            const double fm = projection(ex, g, r);
            x[i] = xi;
            const double hp = static_cast<double>(xi + h) - xi,
                         hm = xi - static_cast<double>(xi - h);
            const double central = (fp - fm) / (hp + hm), right = (fp - f0) / hp,
                         left = (f0 - fm) / hm;
            const double got = grads[k][i];
            const double tol = 2e-3 * gmax + 1e-2 * std::abs(central) + 1e-4;
            if (std::abs(got - central) <= tol || std::abs(got - right) <= tol ||
                std::abs(got - left) <= tol)
                continue;
            std::ostringstream m;
            m << "gradient of input '" << g.node(g.inputs()[k]).name << "' " << x.shape().str()
              << " (engine layout) at element " << i << " (x = " << xi << "): VJP " << got
              << ", central difference " << central << " (one-sided " << left << ", " << right
              << ")";
            return m.str();
        }
    }
    return {};
}

Outcome run_test(const fs::path& dir, const ModelInfo& info) {
    const std::string name = dir.filename().string();
    const std::vector<uint8_t> model = test::read_file((dir / "model.onnx").string());
    const fs::path data = dir / "test_data_set_0";
    std::vector<OnnxTensor> given, want;
    std::string unread;
    for (size_t k = 0;
         k < info.inputs.size() || fs::exists(data / ("input_" + std::to_string(k) + ".pb")); ++k) {
        const fs::path p = data / ("input_" + std::to_string(k) + ".pb");
        if (!fs::exists(p)) break;
        // A file that is no TensorProto (sequences, optionals) is left out for the importer to
        // name the input; it is a failure only if the import then succeeds.
        auto t = read_pb(p);
        if (!t) {
            unread = t.status().message();
            continue;
        }
        if (k < info.inputs.size()) t->name = info.inputs[k];
        given.push_back(std::move(*t));
    }
    for (size_t k = 0; fs::exists(data / ("output_" + std::to_string(k) + ".pb")); ++k) {
        auto t = read_pb(data / ("output_" + std::to_string(k) + ".pb"));
        if (!t) {
            unread = t.status().message();
            continue;
        }
        if (k < info.outputs.size()) t->name = info.outputs[k];
        want.push_back(std::move(*t));
    }
    auto g = import_onnx(model, name, {}, given);
    if (!g) return {Outcome::kSkip, reason_of(g.status(), name)};
    if (!unread.empty()) return {Outcome::kFail, unread};
    if (g->outputs().size() != want.size())
        return {Outcome::kFail, std::to_string(g->outputs().size()) + " outputs, " +
                                    std::to_string(want.size()) + " expected"};
    std::vector<Tensor> inputs;
    for (int node : g->inputs())
        for (const OnnxTensor& t : given)
            if (t.name == g->node(node).name) inputs.push_back(onnx_to_engine(t, g->batch_added()));
    if (inputs.size() != g->inputs().size())
        return {Outcome::kFail, "a runtime input has no value in test_data_set_0"};
    for (const KernelSet* ks : compiled_kernel_sets()) {
        Executor ex(*g, *ks);
        if (Status s = ex.forward(std::span<const Tensor>(inputs)); !s)
            return {Outcome::kFail, std::string(ks->name) + ": " + s.message()};
        for (size_t k = 0; k < want.size(); ++k) {
            const OnnxTensor got =
                engine_to_onnx(ex.value(g->outputs()[k]), g->output_name(k), g->batch_added());
            const OnnxTensor& w = want[k];
            if (got.dims != w.dims) {
                std::string a, b;
                for (int64_t d : got.dims) a += std::to_string(d) + ",";
                for (int64_t d : w.dims) b += std::to_string(d) + ",";
                return {Outcome::kFail, std::string(ks->name) + ": output '" + w.name +
                                            "' has shape [" + a + "], expected [" + b + "]"};
            }
            int bad = 0;
            std::ostringstream m;
            for (size_t i = 0; i < w.f.size(); ++i) {
                const double d = std::abs(static_cast<double>(got.f[i]) - w.f[i]);
                if (!(d <= kAtol + kRtol * std::abs(static_cast<double>(w.f[i])))) {
                    if (bad++ == 0)
                        m << "element " << i << ": " << got.f[i] << ", expected " << w.f[i];
                }
            }
            if (bad)
                return {Outcome::kFail, std::string(ks->name) + ": output '" + w.name +
                                            "': " + std::to_string(bad) + " of " +
                                            std::to_string(w.f.size()) + " values differ; first " +
                                            m.str()};
        }
        uint64_t seed =
            14695981039346656037ull;  // FNV-1a of the name: the same directions on every platform
        for (char c : name) seed = (seed ^ static_cast<uint8_t>(c)) * 1099511628211ull;
        const std::string grad = check_gradients(*g, *ks, inputs, seed);
        if (!grad.empty()) return {Outcome::kFail, std::string(ks->name) + ": " + grad};
    }
    return {};
}

std::string skips_path() { return test::source_path("tests/data/onnx_conformance/skips.txt"); }

// "test_name: reason" per line; '#' starts a comment line.
std::map<std::string, std::string> read_skips() {
    std::map<std::string, std::string> out;
    std::ifstream in(skips_path());
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const size_t colon = line.find(": ");
        if (colon != std::string::npos) out[line.substr(0, colon)] = line.substr(colon + 2);
    }
    return out;
}

// The reason without its node label ("Softmax node 'y': ..."), for the table.
std::string short_reason(const std::string& r) {
    const size_t at = r.find(" node '");
    const size_t end = at == std::string::npos ? at : r.find("': ", at);
    return end == std::string::npos ? r : r.substr(end + 3);
}

TEST(OnnxConformance, NodeTests) {
    const char* env = std::getenv("CNNLENS_ONNX_NODE_DIR");
    const bool ci = std::getenv("CI") != nullptr;
    if (!env || !*env || !fs::is_directory(env)) {
        if (ci)
            FAIL() << "CNNLENS_ONNX_NODE_DIR must name ONNX's node test folder under CI (got '"
                   << (env ? env : "") << "')";
        GTEST_SKIP() << "CNNLENS_ONNX_NODE_DIR is not set to ONNX's node test folder";
    }
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(env))
        if (e.is_directory()) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    const std::map<std::string, std::string> listed = read_skips();
    std::map<std::string, Outcome> outcomes;
    std::map<std::string, std::string> op_of;
    for (const fs::path& d : dirs) {
        const ModelInfo info = model_info(test::read_file((d / "model.onnx").string()));
        if (!kScope.count(info.op)) continue;
        const std::string name = d.filename().string();
        op_of[name] = info.op;
        outcomes[name] = run_test(d, info);
    }
    ASSERT_FALSE(outcomes.empty()) << "no node test of an op in scope under " << env;

    const bool update = std::getenv("CNNLENS_CONFORMANCE_UPDATE") != nullptr;
    for (const auto& [name, o] : outcomes) {
        if (o.kind == Outcome::kFail) ADD_FAILURE() << name << ": " << o.text;
        if (update) continue;
        auto it = listed.find(name);
        if (o.kind == Outcome::kPass && it != listed.end())
            ADD_FAILURE() << name << " passes but skips.txt lists it ('" << it->second
                          << "'): remove its line";
        if (o.kind == Outcome::kSkip && it == listed.end())
            ADD_FAILURE() << name << " is skipped but not in skips.txt: " << o.text;
        if (o.kind == Outcome::kSkip && it != listed.end() && it->second != o.text)
            ADD_FAILURE() << name
                          << " is skipped for another reason than skips.txt says:\n  listed: "
                          << it->second << "\n  now:    " << o.text;
    }
    for (const auto& [name, reason] : listed)
        if (!outcomes.count(name))
            ADD_FAILURE() << "skips.txt lists " << name
                          << ", which is not a node test in scope under " << env;
    if (update) {
        std::ofstream out(skips_path());
        out << "# ONNX node tests (ONNX 1.12) that cnnlens skips, with the importer's reason; "
               "written by\n"
               "# CNNLENS_CONFORMANCE_UPDATE=1 build/native-release/tests/cnnlens_tests "
               "--gtest_filter=OnnxConformance.*\n"
               "# (see tests/import/onnx_conformance_test.cpp). Every other test of an op in scope "
               "passes.\n";
        for (const auto& [name, o] : outcomes)
            if (o.kind == Outcome::kSkip) out << name << ": " << o.text << "\n";
    }

    // The per-op table of docs/conformance.md.
    struct Row {
        int pass = 0, skip = 0, fail = 0;
        std::map<std::string, int> reasons;
    };
    std::map<std::string, Row> rows;
    for (const std::string& op : kScope) rows[op];
    int pass = 0, skip = 0, fail = 0;
    for (const auto& [name, o] : outcomes) {
        Row& r = rows[op_of[name]];
        if (o.kind == Outcome::kPass) ++r.pass, ++pass;
        if (o.kind == Outcome::kSkip) ++r.skip, ++skip, ++r.reasons[short_reason(o.text)];
        if (o.kind == Outcome::kFail) ++r.fail, ++fail;
    }
    std::string sets;
    for (const KernelSet* ks : compiled_kernel_sets())
        sets += (sets.empty() ? "" : ", ") + std::string(ks->name);
    std::printf("\nONNX node tests: %d passed, %d skipped, %d failed (kernel sets: %s)\n\n", pass,
                skip, fail, sets.c_str());
    std::printf(
        "| op | tests | passed | skipped | failed | why skipped |\n|---|---|---|---|---|---|\n");
    for (const auto& [op, r] : rows) {
        std::string why;
        for (const auto& [reason, n] : r.reasons)
            why +=
                (why.empty() ? "" : "; ") + reason + (n > 1 ? " (" + std::to_string(n) + ")" : "");
        std::printf("| %s | %d | %d | %d | %d | %s |\n", op.c_str(), r.pass + r.skip + r.fail,
                    r.pass, r.skip, r.fail, why.c_str());
    }
}

}  // namespace
}  // namespace cnnlens
