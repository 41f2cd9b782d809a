#include "wasm/app/bench_hook.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/base/json_text.h"
#include "core/base/rng.h"
#include "core/graph/executor.h"
#include "core/kernels/kernels.h"
#include "wasm/app/session.h"

namespace cnnlens::app {

namespace {
int app_threads = 0;  // the app's kernel thread count while a benchmark's is in force, else 0
}  // namespace

void end_bench_threads() {
    if (app_threads == 0) return;
    set_kernel_threads(app_threads);
    app_threads = 0;
}

std::string bench_forward_json(Session& s, int batch, int runs, int threads, bool profile) {
    auto error = [](const std::string& m) { return "{\"error\":" + json_quote(m) + "}"; };
    if (!s.ready()) return error("no model is loaded");
    if (s.busy()) return error("a job is running");
    if (batch < 1 || batch > 256)
        return error("batch must be 1..256, got " + std::to_string(batch));
    if (runs < 1 || runs > 1000) return error("runs must be 1..1000, got " + std::to_string(runs));
    if (threads < 1 || threads > 64)
        return error("threads must be 1..64, got " + std::to_string(threads));
    const InputSpec& in = s.model().spec.input;
    Tensor x(Shape{batch, in.height, in.width, in.channels});
    Rng rng(42);
    for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(in.range_lo, in.range_hi);
    if (app_threads == 0) app_threads = kernel_threads();
    if (kernel_threads() != threads) set_kernel_threads(threads);
    const int used = kernel_threads();
    std::vector<double> ms;
    bool ok = true;
    for (int r = 0; r < runs && ok; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        ok = s.probe().run(x, ProbeRequest{}).has_value();
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    if (!ok) return error("the forward pass failed");
    std::string passes = "[";
    for (size_t i = 0; i < ms.size(); ++i) {
        char v[32];
        std::snprintf(v, sizeof v, "%s%.4f", i ? "," : "", ms[i] / batch);
        passes += v;
    }
    passes += "]";
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2] / batch;
    char buf[96];
    std::snprintf(buf, sizeof buf,
                  "{\"ms_per_image\":%.4f,\"batch\":%d,\"runs\":%d,\"threads\":%d,\"kernels\":",
                  median, batch, runs, used);
    std::string json = buf + json_quote(s.kernels_name()) + ",\"passes\":" + passes;
    if (profile) {
        // Per node, as `cnnlens bench --profile` times a prediction's forward: a planned pass of
        // one Executor (ReLUs fused), ms per image averaged over `runs` passes, slowest first.
        const Model& m = s.model();
        Executor ex(m.graph, s.kernels());
        const std::vector<int> keep{m.logits};
        std::vector<double> node_ms;
        ok = ex.forward(x, keep).is_ok();  // packs the kernels' weights, untimed
        ex.set_profile(&node_ms);
        for (int r = 0; r < runs && ok; ++r) ok = ex.forward(x, keep).is_ok();
        ex.set_profile(nullptr);
        if (!ok) return error("the profiled forward pass failed");
        std::vector<int> order;
        for (int i = 0; i < static_cast<int>(node_ms.size()); ++i)
            if (node_ms[static_cast<size_t>(i)] > 0) order.push_back(i);
        std::sort(order.begin(), order.end(), [&](int p, int q) {
            return node_ms[static_cast<size_t>(p)] > node_ms[static_cast<size_t>(q)];
        });
        json += ",\"nodes\":[";
        for (size_t k = 0; k < order.size(); ++k) {
            const Node& n = m.graph.node(order[k]);
            std::snprintf(
                buf, sizeof buf, ",%.4f]",
                node_ms[static_cast<size_t>(order[k])] / (static_cast<double>(runs) * batch));
            json += (k ? ",[" : "[") + json_quote(n.name) + "," + json_quote(op_name(n.op)) + buf;
        }
        json += "]";
    }
    return json + "}";
}

}  // namespace cnnlens::app
