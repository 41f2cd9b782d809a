// `cnnlens run`: an ONNX model on tensors read from TensorProto (.pb) or NumPy (.npy) files,
// outputs written in the same formats, in ONNX layout.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli/cli.h"
#include "core/graph/executor.h"
#include "core/image/render.h"
#include "core/import/model.h"
#include "core/import/onnx/onnx_graph.h"

namespace cnnlens::cli {
namespace {

bool ends_with(const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

Expected<OnnxTensor> read_tensor_file(const std::string& name, const std::string& path) {
    auto bytes = read_file_bytes(path);
    if (!bytes) return bytes.status();
    OnnxTensor t;
    if (ends_with(path, ".npy")) {
        auto n = decode_npy(*bytes, path);
        if (!n) return n.status();
        t.dims.assign(n->shape().begin(), n->shape().end());
        t.f.assign(n->data(), n->data() + n->size());
    } else {
        auto p = read_tensor_proto(*bytes, path);
        if (!p) return p.status();
        t = std::move(*p);
    }
    t.name = name;
    return t;
}

// Output names may hold any character; files get the letters, digits, '-', '_' and '.' of them.
std::string file_stem(const std::string& name) {
    std::string s = name;
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            c = '_';
    return s.empty() || s[0] == '.' ? "output" + s : s;
}

}  // namespace

int cmd_run(const Args& a) {
    if (auto u = a.unknown({"model", "input", "output-dir", "format", "kernels"}); !u.empty())
        return fail("run: unknown option " + u);
    if (!a.has("model")) return fail("run: --model M.onnx is required");
    if (!a.positional().empty())
        return fail("run: unexpected argument '" + a.positional()[0] +
                    "' (inputs are given as --input NAME=FILE)");
    std::string format = a.get("format");
    if (!format.empty() && format != "pb" && format != "npy")
        return fail("run: --format must be pb or npy, got '" + format + "'");
    std::vector<OnnxTensor> given;
    for (const std::string& spec : a.get_all("input")) {
        const size_t eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
            return fail("run: --input '" + spec + "' is not NAME=FILE");
        const std::string path = spec.substr(eq + 1);
        auto t = read_tensor_file(spec.substr(0, eq), path);
        if (!t) return fail(t.status().message());
        if (format.empty()) format = ends_with(path, ".npy") ? "npy" : "pb";
        given.push_back(std::move(*t));
    }
    if (format.empty()) format = "pb";
    const std::string model_path = a.get("model");
    auto bytes = read_file_bytes(model_path);
    if (!bytes) return fail(bytes.status().message());
    auto graph = import_onnx(*bytes, model_path, {}, given);
    if (!graph) return fail(graph.status().message());
    std::vector<Tensor> inputs;
    for (int node : graph->inputs()) {
        const std::string& name = graph->node(node).name;
        auto it = std::find_if(given.begin(), given.end(),
                               [&](const OnnxTensor& t) { return t.name == name; });
        if (it == given.end())
            return fail("run: the model's input '" + name + "' was not given (--input " + name +
                        "=FILE)");
        if (it->is_int())
            return fail("run: input '" + name + "' holds " + onnx_dtype_name(it->dtype) +
                        " values; the model computes with it as float32");
        inputs.push_back(onnx_to_engine(*it, graph->batch_added()));
    }
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    Executor ex(*graph, *ks);
    if (Status s = ex.forward(std::span<const Tensor>(inputs)); !s)
        return fail(model_path + ": " + s.message());
    const std::string dir = a.get("output-dir", ".");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (size_t k = 0; k < graph->outputs().size(); ++k) {
        const std::string& name = graph->output_name(k);
        OnnxTensor out = engine_to_onnx(ex.value(graph->outputs()[k]), name, graph->batch_added());
        const std::string path = dir + "/" + file_stem(name) + "." + format;
        Status st;
        if (format == "npy") {
            Tensor t(Shape::from(out.dims.begin(), out.dims.end()));
            std::copy(out.f.begin(), out.f.end(), t.data());
            st = write_npy(path, t);
        } else {
            const std::vector<uint8_t> pb = encode_tensor_proto(name, out.dims, out.f);
            st = write_text(path, std::string(pb.begin(), pb.end()));
        }
        if (!st) return fail(st.message());
        float lo = out.f.empty() ? 0.f : *std::min_element(out.f.begin(), out.f.end());
        float hi = out.f.empty() ? 0.f : *std::max_element(out.f.begin(), out.f.end());
        std::string dims;
        for (size_t d = 0; d < out.dims.size(); ++d) {
            if (d) dims += ',';
            dims += std::to_string(out.dims[d]);
        }
        std::printf("%s [%s] min %g max %g -> %s\n", name.c_str(), dims.c_str(), lo, hi,
                    path.c_str());
    }
    return 0;
}

}  // namespace cnnlens::cli
