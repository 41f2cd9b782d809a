// `cnnlens bench`: median time per image of forward passes and input gradients on random
// inputs, after a warm-up. Built natively and with Emscripten, so one program measures both.
#include <algorithm>
#include <chrono>
#include <cstdio>
#ifdef __EMSCRIPTEN__
#include <emscripten/heap.h>
#else
#include <sys/resource.h>
#endif

#include "cli/cli.h"
#include "core/base/memory.h"
#include "core/base/rng.h"
#include "core/explain/explain.h"
#include "core/explain/filters.h"
#include "core/face/face.h"
#include "core/image/image.h"
#include "core/graph/executor.h"
#include "core/graph/memory_plan.h"
#include "core/import/model.h"
#ifdef CNNLENS_HAVE_SIMD
#include "core/kernels/simd/roofline.h"
#endif

namespace cnnlens::cli {
namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <typename F>
std::vector<double> time_runs(int warmup, int runs, F&& f) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        ms.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
    }
    return ms;
}

// `bench --method NAME`: median time of whole explanations of a real face (the astronaut test
// image when present, else a random input) or of --image PHOTO (as explain shows it to the
// model), default parameters unless --samples is given. --preset and --task as everywhere.
// `--method forward` times one forward pass of that face (the class scores).
// `--method filter` times a filter picture instead: 100 Adam steps (pixel parameterization, no
// jitter or blur, learning rate 0.05) ascending the logit of class 3, i.e. through the whole net,
// as bench/torch_methods.py does with PyTorch.
int bench_method(const Args& a) {
    const bool filter = a.get("method") == "filter", forward = a.get("method") == "forward";
    const ExplanationMethod* m = filter || forward ? nullptr : find_method(a.get("method"));
    if (!m && !filter && !forward)
        return fail("bench: unknown method '" + a.get("method") +
                    "' (available: forward, filter, " + method_names() + ")");
    auto model = load_model_for(a, a.get("model", "models/fer2013-mini-xception"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    GraphProbe probe(*model, *ks);
    const InputSpec& in = model->spec.input;
    Tensor x(Shape{1, in.height, in.width, in.channels});
    if (a.has("image")) {
        auto img = load_image(a.get("image"));
        if (!img) return fail("bench: --image: " + img.status().message());
        x = model_input(*model, *img);
    } else if (auto img = load_image("tests/data/astronaut_face.png"))
        x = image_to_input(*img, in);
    else {
        Rng rng(42);
        for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(in.range_lo, in.range_hi);
    }
    const std::string name = filter ? "filter" : forward ? "forward" : std::string(m->name());
    Params p;
    // --samples sets how many images a method runs: its `samples` (its `steps` for IG's path).
    if (m && a.has("samples")) {
        const ParamDef* count = m->find_param("samples");
        if (!count) count = m->find_param("steps");
        if (!count)
            return fail("bench: --samples: method " + name + " has no samples or steps parameter");
        p.set(count->name, a.get_int("samples", 50));
    }
    Target t{3};
    if (m) t.score = m->traits().default_score;
    AscentParams ascent;
    ascent.parameterization = Parameterization::kPixel;
    ascent.steps = a.get_int("samples", 100);
    ascent.jitter = 0;
    double first_partial_ms = -1;
    bool ok = true;
    const auto runs = time_runs(a.get_int("warmup", 1), a.get_int("runs", 5), [&] {
        ExplainContext ctx(probe);
        const auto t0 = std::chrono::steady_clock::now();
        first_partial_ms = -1;
        ctx.partial = [&](const Explanation&) {
            if (first_partial_ms < 0)
                first_partial_ms =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
        };
        if (forward)
            ok &= probe.run(x, ProbeRequest{}).has_value();
        else if (filter)
            ok &= visualize_filter(probe, model->logits, 3, ascent).has_value();
        else
            ok &= m->explain(x, t, p, ctx).has_value();
    });
    if (!ok) return fail("bench: " + name + " failed");
#ifdef __EMSCRIPTEN__
    const char* platform = "wasm";
#else
    const char* platform = "native";
#endif
    const double med = median(runs);
    if (a.has("json"))
        std::printf(
            "{\"platform\":\"%s\",\"kernels\":%s,\"precision\":\"%s\",\"method\":%s,\"runs\":%d,"
            "\"ms\":%.3f,\"ms_min\":%.3f,\"ms_max\":%.3f,\"first_partial_ms\":%.3f}\n",
            platform, json_quote(ks->name).c_str(),
            std::string(tape_precision_name(default_tape_precision())).c_str(),
            json_quote(name).c_str(), static_cast<int>(runs.size()), med,
            *std::min_element(runs.begin(), runs.end()),
            *std::max_element(runs.begin(), runs.end()), first_partial_ms);
    else
        std::printf("%s kernels=%s %s: %.1f ms (median of %zu)%s\n", platform,
                    std::string(ks->name).c_str(), name.c_str(), med, runs.size(),
                    first_partial_ms >= 0
                        ? (", first partial result after " +
                           std::to_string(static_cast<int>(first_partial_ms)) + " ms")
                              .c_str()
                        : "");
    return 0;
}

// The per-node table of --profile: mean ms per image of forward, the gradient's forward (the
// tape) and VJP over `images` (runs x batch), slowest first, with each convolution's GFLOP/s in
// the forward against the measured peak.
void print_profile(const Graph& graph, std::vector<double> ms, std::vector<double> tape,
                   std::vector<double> back, int images) {
    ms.resize(static_cast<size_t>(graph.size()), 0.0);
    tape.resize(ms.size(), 0.0);
    back.resize(ms.size(), 0.0);
    std::vector<int> order;
    double total_f = 0, total_t = 0, total_b = 0;
    for (int i = 0; i < static_cast<int>(ms.size()); ++i) {
        const size_t k = static_cast<size_t>(i);
        ms[k] /= images, tape[k] /= images, back[k] /= images;
        total_f += ms[k], total_t += tape[k], total_b += back[k];
        if (ms[k] > 0 || tape[k] > 0 || back[k] > 0) order.push_back(i);
    }
    std::sort(order.begin(), order.end(), [&](int p, int q) {
        const size_t a = static_cast<size_t>(p), b = static_cast<size_t>(q);
        return ms[a] + tape[a] + back[a] > ms[b] + tape[b] + back[b];
    });
#ifdef CNNLENS_HAVE_SIMD
    const double peak = measure_roofline(300).gflops;
#else
    const double peak = 0;
#endif
    std::printf(
        "  forward ms/image  GFLOP/s  %% of peak  tape ms/image  vjp ms/image  op           shape "
        "             node\n");
    for (int i : order) {
        const Node& n = graph.node(i);
        double gflops = 0;
        if (const auto* c = std::get_if<ConvAttrs>(&n.attrs); c && ms[static_cast<size_t>(i)] > 0) {
            const Shape& w = graph.node(n.inputs[1]).shape;
            gflops = 2.0 * n.shape[1] * n.shape[2] * n.shape[3] * w[0] * w[1] * w[2] /
                     (ms[static_cast<size_t>(i)] * 1e6);
        }
        char eff[32] = "";
        if (gflops > 0)
            std::snprintf(eff, sizeof eff, "%7.1f  %8.0f%%", gflops,
                          peak > 0 ? 100.0 * gflops / peak : 0.0);
        std::printf("  %15.4f  %-18s  %13.4f  %12.4f  %-12s %-18s %s\n", ms[static_cast<size_t>(i)],
                    eff, tape[static_cast<size_t>(i)], back[static_cast<size_t>(i)],
                    std::string(op_name(n.op)).c_str(), n.shape.str().c_str(), n.name.c_str());
    }
    if (peak > 0) std::printf("  peak: %.1f GFLOP/s per core (bench --roofline)\n", peak);
    std::printf("  %15.4f  %18s  %13.4f  %12.4f  total\n", total_f, "", total_t, total_b);
}

// `bench --detector DIR` (models/blazeface): face detection of a photo (the astronaut test photo,
// else a random 640x480 frame as a camera gives): the whole detect() (padding, resampling, the
// graph, decoding) and, with --profile, the graph's nodes.
int bench_detector(const Args& a) {
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    const std::string dir = a.get("detector");
    auto det = FaceDetector::load(dir, *ks);
    if (!det) return fail(det.status().message());
    Image img;
    if (auto photo = load_image("tests/data/astronaut.jpg")) {
        img = std::move(*photo);
    } else {
        img.width = 640, img.height = 480, img.channels = 3;
        Rng rng(42);
        img.pixels.resize(static_cast<size_t>(640) * 480 * 3);
        for (uint8_t& p : img.pixels) p = static_cast<uint8_t>(rng.uniform(0, 255.99f));
    }
    bool ok = true;
    size_t faces = 0;
    const int runs = a.get_int("runs", 15);
    const auto ms = time_runs(a.get_int("warmup", 2), runs, [&] {
        auto f = det->detect(img);
        ok &= f.has_value();
        if (f) faces = f->size();
    });
    if (!ok) return fail("bench: face detection failed");
    if (a.has("profile")) {
        std::vector<double> node_ms;
        det->set_profile(&node_ms);
        for (int r = 0; r < runs; ++r) ok &= det->detect(img).has_value();
        det->set_profile(nullptr);
        print_profile(det->graph(), node_ms, {}, {}, runs);
    }
#ifdef __EMSCRIPTEN__
    const char* platform = "wasm";
#else
    const char* platform = "native";
#endif
    if (a.has("json"))
        std::printf(
            "{\"platform\":\"%s\",\"kernels\":%s,\"detector\":%s,\"image\":\"%dx%d\","
            "\"faces\":%zu,\"ms\":%.3f}\n",
            platform, json_quote(ks->name).c_str(), json_quote(dir).c_str(), img.width, img.height,
            faces, median(ms));
    else
        std::printf(
            "%s kernels=%s face detection of a %dx%d photo (%zu face%s found): %.2f ms (median "
            "of %d)\n",
            platform, std::string(ks->name).c_str(), img.width, img.height, faces,
            faces == 1 ? "" : "s", median(ms), runs);
    return 0;
}

// `bench --memory`: the engine's peak bytes (core/base/memory.h: tensors, packed weights, kernel
// scratch) of a forward-only pass and of a tape forward plus input gradient, each on a fresh
// GraphProbe (one image, one executor unless --threads), against the weights and one image's
// activations (graph_memory in core/graph/memory_plan.h).
int bench_memory(const Args& a) {
    auto model = load_model(a.get("model", "models/fer2013-mini-xception"));
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");
    const GraphMemory gm = graph_memory(model->graph);
    const InputSpec& in = model->spec.input;
    Rng rng(42);
    Tensor x(Shape{1, in.height, in.width, in.channels});
    for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(in.range_lo, in.range_hi);
    ProbeRequest scores, gradient;
    gradient.target = Target{3};
    gradient.input_gradient = true;
    // Two runs each: the second shows that buffers are reused, not grown.
    struct Held {
        int64_t all = 0, buffers = 0;
    };
    auto peak_of = [&](const ProbeRequest& r, Held& held) -> int64_t {
        const int64_t before = memory::live_bytes();
        memory::reset_peak();
        {
            GraphProbe probe(*model, *ks);
            for (int run = 0; run < 2; ++run)
                if (!probe.run(x, r)) return -1;
            held.all = memory::live_bytes() - before;
            held.buffers = probe.buffer_bytes();
        }
        return memory::peak_bytes();
    };
    Held fwd_held, grad_held;
    const int64_t fwd = peak_of(scores, fwd_held), grad = peak_of(gradient, grad_held);
    if (fwd < 0 || grad < 0) return fail("bench: the model did not run");
#ifdef __EMSCRIPTEN__
    const char* platform = "wasm";
    const int64_t process = static_cast<int64_t>(emscripten_get_heap_size());
    const char* process_what = "wasm memory";
#else
    const char* platform = "native";
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const int64_t process = static_cast<int64_t>(ru.ru_maxrss) * 1024;
    const char* process_what = "peak RSS";
#endif
    const double base = static_cast<double>(gm.weight_bytes + gm.activation_bytes);
    constexpr double kTarget = 1.5;
    const double ratio = grad / base;
    const double mb = 1.0 / (1 << 20);
    if (a.has("json")) {
        std::printf(
            "{\"platform\":\"%s\",\"kernels\":%s,\"threads\":%d,\"weight_bytes\":%lld,"
            "\"activation_bytes\":%lld,\"forward_plan_bytes\":%lld,\"backward_tape_bytes\":%lld,"
            "\"forward_peak_bytes\":%lld,\"forward_kernel_bytes\":%lld,\"forward_buffer_bytes\":%"
            "lld,\"gradient_peak_bytes\":%lld,\"gradient_kernel_bytes\":%lld,"
            "\"gradient_buffer_bytes\":%lld,\"ratio\":%.4f,\"target\":%.2f,\"process_bytes\":%"
            "lld}\n",
            platform, json_quote(ks->name).c_str(), kernel_threads(),
            static_cast<long long>(gm.weight_bytes), static_cast<long long>(gm.activation_bytes),
            static_cast<long long>(gm.forward_plan_bytes),
            static_cast<long long>(gm.backward_tape_bytes), static_cast<long long>(fwd),
            static_cast<long long>(fwd_held.all - fwd_held.buffers),
            static_cast<long long>(fwd_held.buffers), static_cast<long long>(grad),
            static_cast<long long>(grad_held.all - grad_held.buffers),
            static_cast<long long>(grad_held.buffers), ratio, kTarget,
            static_cast<long long>(process));
        return 0;
    }
    std::printf(
        "%s kernels=%s threads=%d, one image\n"
        "  weights (W)          %9.1f MiB  the graph's constants, float32\n"
        "  activations (A)      %9.1f MiB  every node's output, float32\n"
        "  forward plan         %9.1f MiB  outputs alive at once in a forward-only pass\n"
        "  backward tape        %9.1f MiB  outputs the input gradient's VJPs read\n"
        "  forward-only peak    %9.1f MiB  W + kernels %.1f + buffers %.1f afterwards\n"
        "  input gradient peak  %9.1f MiB  W + kernels %.1f + buffers %.1f afterwards\n"
        "  gradient / (W + A)   %9.2f      target <= %.1f: %s\n"
        "  %-20s %9.1f MiB  the whole process, model loading included\n",
        platform, std::string(ks->name).c_str(), kernel_threads(), gm.weight_bytes * mb,
        gm.activation_bytes * mb, gm.forward_plan_bytes * mb, gm.backward_tape_bytes * mb, fwd * mb,
        (fwd_held.all - fwd_held.buffers) * mb, fwd_held.buffers * mb, grad * mb,
        (grad_held.all - grad_held.buffers) * mb, grad_held.buffers * mb, ratio, kTarget,
        ratio <= kTarget ? "passes" : "fails", process_what, process * mb);
    return 0;
}

}  // namespace

int cmd_bench(const Args& a) {
    if (auto u = a.unknown({"model", "kernels", "threads", "batch", "runs", "json", "warmup",
                            "only", "method", "samples", "image", "preset", "task", "profile",
                            "roofline", "detector", "memory"});
        !u.empty())
        return fail("bench: unknown option " + u);
    if (a.has("memory")) return bench_memory(a);
    if (a.has("method")) return bench_method(a);
    if (a.has("detector")) return bench_detector(a);
#ifdef CNNLENS_HAVE_SIMD
    if (a.has("roofline")) {  // the peak the kernels are measured against
        const Roofline r = measure_roofline(a.get_int("runs", 400));
        if (a.has("json"))
            std::printf("{\"isa\":%s,\"lanes\":%d,\"peak_gflops\":%.2f}\n",
                        json_quote(r.isa).c_str(), r.lanes, r.gflops);
        else
            std::printf(
                "roofline %s (%d lanes): %.1f GFLOP/s per core (multiply-add in a GEMM inner loop, "
                "operands in L1)\n",
                r.isa, r.lanes, r.gflops);
        return 0;
    }
#endif
    const std::string only = a.get("only", "both");
    if (only != "both" && only != "forward" && only != "gradient")
        return fail("bench: --only must be forward, gradient or both, got '" + only + "'");
    const std::string path = a.get("model", "models/fer2013-mini-xception");
    const int batch = a.get_int("batch", 1), threads = kernel_threads();
    if (batch < 1 || batch > 4096)
        return fail("bench: --batch must be 1..4096, got " + a.get("batch"));
    const int runs = a.get_int("runs", batch >= 64 ? 5 : 15), warmup = a.get_int("warmup", 2);
    auto model = load_model(path);
    if (!model) return fail(model.status().message());
    const KernelSet* ks = select_kernel_set(a.get("kernels"));
    if (!ks)
        return fail("kernel set '" + a.get("kernels") +
                    "' is not compiled in (available: " + kernel_set_names() + ")");

    const InputSpec& in = model->spec.input;
    Rng rng(42);
    Tensor x(Shape{batch, in.height, in.width, in.channels});
    for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(in.range_lo, in.range_hi);
    // Timed through GraphProbe, the engine's door for every method: batches run in cache-sized
    // pieces, in parallel across threads. --profile times a plain Executor on the whole batch.
    GraphProbe probe(*model, *ks);
    ProbeRequest scores, gradient;
    gradient.target = Target{3};
    gradient.input_gradient = true;
    bool ok = true;
    std::vector<double> fwd{0.0}, grad{0.0};
    if (only != "gradient")
        fwd = time_runs(warmup, runs, [&] { ok &= probe.run(x, scores).has_value(); });
    if (!ok) return fail("bench: forward failed");
    if (only != "forward")
        grad = time_runs(warmup, runs, [&] { ok &= probe.run(x, gradient).has_value(); });
    if (a.has("profile")) {  // per node: mean ms per image over `runs` passes, slowest first:
                             // the forward of a prediction (a planned pass, ReLUs fused, as
                             // `predict` runs it) and the VJP of an input gradient
        Executor ex(model->graph, *ks);
        std::vector<double> ms, tape, back;
        const int logits = model->logits, input = model->graph.input();
        const std::vector<int> keep{logits};
        std::vector<Tensor> grads;
        const auto gradient_pass = [&] {
            ex.set_profile(&tape);
            ok &= ex.forward_for_backward(x, keep).is_ok();
            ex.set_profile(nullptr);
            const Seed seed{logits, seed_class(ex.value(logits).shape(), 3)};
            ok &= ex.backward({&seed, 1}, {&input, 1}, ReluRule::kStandard, grads).is_ok();
        };
        // One unprofiled pass of each first: kernels pack their weights (the backward's flipped
        // or transposed copies) when first used, a cost the timed passes above exclude too.
        ok &= ex.forward(x, keep).is_ok();
        gradient_pass();
        tape.clear();
        ex.set_profile(&ms);
        const auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < runs && ok; ++r) ok &= ex.forward(x, keep).is_ok();
        const auto t1 = std::chrono::steady_clock::now();
        ex.set_profile(nullptr);
        ex.set_backward_profile(&back);
        for (int r = 0; r < runs && ok; ++r) gradient_pass();
        const auto t2 = std::chrono::steady_clock::now();
        ex.set_backward_profile(nullptr);
        print_profile(model->graph, ms, tape, back, runs * batch);
        // What the nodes' times leave out: the Executor's own work between nodes (buffers, the
        // tape's bookkeeping, fused ReLUs' VJPs in the backward sweep).
        const auto per_image = [&](auto a, auto b) {
            return std::chrono::duration<double, std::milli>(b - a).count() / (runs * batch);
        };
        std::printf(
            "  (one Executor, batch %d; whole passes: forward %.4f, gradient %.4f ms/image)\n",
            batch, per_image(t0, t1), per_image(t1, t2));
    }
    if (!ok) return fail("bench: gradient failed");
    const double f = median(fwd) / batch, g = median(grad) / batch;
    auto range = [&](const std::vector<double>& v) {
        char b[96];
        std::snprintf(b, sizeof b, "[%.4f,%.4f]", *std::min_element(v.begin(), v.end()) / batch,
                      *std::max_element(v.begin(), v.end()) / batch);
        return std::string(b);
    };
    const double mflop = [&] {
        double s = 0;
        for (const Node& n : model->graph.nodes())
            if (std::holds_alternative<ConvAttrs>(n.attrs)) {
                const Shape& w = model->graph.node(n.inputs[1]).shape;
                s += 2.0 * n.shape[1] * n.shape[2] * n.shape[3] * w[0] * w[1] * w[2];
            }
        return s / 1e6;
    }();
#ifdef __EMSCRIPTEN__
    const char* platform = "wasm";
#else
    const char* platform = "native";
#endif
    if (a.has("json")) {
        std::printf(
            "{\"platform\":\"%s\",\"kernels\":%s,\"threads\":%d,\"batch\":%d,\"runs\":%d,"
            "\"precision\":"
            "\"%s\",\"forward_ms_per_image\":%.4f,"
            "\"gradient_ms_per_image\":%.4f,\"forward_ms_range\":%s,\"gradient_ms_range\":%s,"
            "\"forward_gflops\":%.2f,\"mflop_per_image\":%.2f}\n",
            platform, json_quote(ks->name).c_str(), threads, batch, runs,
            std::string(tape_precision_name(default_tape_precision())).c_str(), f, g,
            range(fwd).c_str(), range(grad).c_str(), f > 0 ? mflop / f : 0.0, mflop);
    } else {
        std::printf(
            "%s kernels=%s threads=%d batch=%d runs=%d\n  forward   %9.3f ms/image  (%.1f "
            "GFLOP/s)\n  gradient  %9.3f ms/image  (%.2fx forward; %s precision)\n",
            platform, std::string(ks->name).c_str(), threads, batch, runs, f,
            f > 0 ? mflop / f : 0.0, g, f > 0 ? g / f : 0.0,
            std::string(tape_precision_name(default_tape_precision())).c_str());
    }
    return 0;
}

}  // namespace cnnlens::cli
