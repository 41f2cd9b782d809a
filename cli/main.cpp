// cnnlens command line: a thin client of core. `cnnlens help` lists the subcommands.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "cli/cli.h"

namespace cnnlens::cli {

Args::Args(int argc, char** argv, int first, std::vector<std::string> switches) {
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0 && s.size() > 2) {
            std::string name = s.substr(2), value;
            const size_t eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else if (std::find(switches.begin(), switches.end(), name) == switches.end()) {
                if (i + 1 >= argc) {
                    error_ = "--" + name + " needs a value";
                    return;
                }
                value = argv[++i];
            }
            flags_.push_back({name, value});
        } else {
            positional_.push_back(s);
        }
    }
}

bool Args::has(std::string_view f) const {
    for (auto& [k, v] : flags_)
        if (k == f) return true;
    return false;
}

std::string Args::get(std::string_view f, const std::string& def) const {
    for (auto& [k, v] : flags_)
        if (k == f) return v;
    return def;
}

std::vector<std::string> Args::get_all(std::string_view f) const {
    std::vector<std::string> out;
    for (auto& [k, v] : flags_)
        if (k == f) out.push_back(v);
    return out;
}

int Args::get_int(std::string_view f, int def) const {
    const std::string v = get(f);
    if (v.empty()) return def;
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    return (end && *end == 0) ? static_cast<int>(n) : def;
}

std::string Args::unknown(const std::vector<std::string>& known) const {
    for (auto& [k, v] : flags_)
        if (k != "threads" && k != "precision" &&
            std::find(known.begin(), known.end(), k) == known.end())
            return "--" + k;
    return {};
}

int fail(const std::string& message) {
    std::fprintf(stderr, "cnnlens: %s\n", message.c_str());
    return 1;
}

}  // namespace cnnlens::cli

namespace {
const char* kUsage =
    "usage: cnnlens <command> [options]\n"
    "\n"
    "commands:\n"
    "  predict --model DIR [--kernels SET] [--json] [--top N] [--faces auto|detect|whole]\n"
    "          [--align on|off] [--detector DIR] IMAGE...\n"
    "        classify each image (PNG, JPEG, BMP, GIF, TGA): probabilities and the top class\n"
    "        (with more than 10 classes, the top 5); with a face model, of every face found\n"
    "  explain --model DIR --method NAME (see methods)\n"
    "          [--class C] [--contrast C] [--score logit|probability] [--out DIR] [--seed N]\n"
    "          [--<parameter> VALUE ...] [--face K] [face options as for predict] IMAGE...\n"
    "        explanation overlay (PNG), raw map (.npy) and parameters (JSON) into --out; for a\n"
    "        detected face also the map drawn back on the photo (_photo.png)\n"
    "  explain --method NAME --help\n"
    "        the method's card (what it computes, how to read its map, its cost in model passes,\n"
    "        its paper, whose defaults it follows) and its parameters with labels and ranges\n"
    "  methods [--names | --tsv]\n"
    "        the explanation methods: name, title, how each runs, its default score and map\n"
    "        scaling, and its parameters with labels, defaults, ranges and what each changes\n"
    "        (--names: one name a line; --tsv: name, title, paper, anchor and model passes at the\n"
    "        defaults, tab-separated)\n"
    "  confusion --model DIR --data FILE.csv|DIR [--usage PublicTest] [--json] [--out DIR]\n"
    "        confusion matrix over a labeled set (FER2013 CSV, label,feature CSV, folder per "
    "class)\n"
    "  evaluate --model DIR --data FILE.csv|DIR --methods a,b [--metrics x,y] [--limit N] [--seed "
    "N]\n"
    "          [--json F] [--csv F] [--shard K/N --partial F] [--baseline black|blur|mean] "
    "[--steps N]\n"
    "          [--runs N] [--subset N] [--samples N] [--radius R] [--<parameter> VALUE ...]\n"
    "        trust metrics of each method's map of the top class, mean and std over the items\n"
    "        (sparseness, complexity, deletion_auc, insertion_auc, faithfulness_correlation,\n"
    "        infidelity, road_morf, road_lerf; on request, as they re-explain: random_logit, "
    "max_sensitivity,\n"
    "        avg_sensitivity); --shard K/N takes items K, K+N, ... and writes\n"
    "        their exact sums to --partial\n"
    "  sanity --model DIR --method NAME [--class C] [--mode cascading|independent] [--layers N]\n"
    "          [--seed N] [--out DIR] [--json F] [--<parameter> VALUE ...] [face options] IMAGE\n"
    "        the model-randomization check (Adebayo et al. 2018): the method's map as the layers "
    "are\n"
    "        randomized from the top, with each map's rank correlation and SSIM to the first\n"
    "  merge PARTIAL... [--json F] [--csv F]\n"
    "        the table of the shards' partials, equal to one process's table\n"
    "  filters --model DIR [--layer NAME] [--steps N] [--parameterization fourier|pixel] [--out "
    "DIR]\n"
    "        a picture per filter of a layer, by gradient ascent on its mean activation\n"
    "  featuremaps --model DIR [--layer NAME] [--scale map|layer|global] [--out DIR] IMAGE\n"
    "        the feature maps of a layer for an image\n"
    "  report --model DIR --data FILE.csv|DIR [--out DIR]\n"
    "        the four-part report as PNG grids and index.html: saliency + mask per class, filters "
    "and\n"
    "        feature maps, LIME per class with the confusion matrix, SmoothGrad per class\n"
    "  run --model M.onnx --input NAME=FILE ... [--output-dir DIR] [--format pb|npy] [--kernels "
    "SET]\n"
    "        run an ONNX model on tensors instead of an image: inputs and outputs are ONNX "
    "TensorProto\n"
    "        (.pb) or NumPy (.npy, float32) files in ONNX layout (NCHW), any rank from 1 to 8 (7 "
    "when\n"
    "        the first axis is data, not a batch), as many as the model has; outputs go to\n"
    "        DIR/<output name>.<format> (default: the inputs' format) and\n"
    "        their shapes and value ranges are printed. Non-float32 inputs (int64 shapes or axes) "
    "are\n"
    "        read as constants; so are float32 inputs that an op needs constant (weights)\n"
    "  model-info DIR\n"
    "        layers with their output shapes, parameter counts and multiply-adds (MACs)\n"
    "  bench [--model DIR] [--kernels SET] [--threads N] [--batch N] [--runs N] [--json] "
    "[--profile]\n"
    "        median time of forward passes and input gradients per image (--profile: per layer)\n"
    "  bench --method NAME|filter [--samples N] [--image PHOTO]   whole explanations of a face\n"
    "        (default: the astronaut test face) or of PHOTO\n"
    "  bench --roofline    the multiply-add peak of one core with the simd set's vectors\n"
    "  bench --memory      peak bytes of a forward pass and of an input gradient (one image)\n"
    "        against the weights and one image's activations\n"
    "  bench --detector DIR [--profile]   face detection of a photo (--profile: per node)\n"
    "\n"
    "Models: --preset imagenet (torchvision's mean/std) and --task face|image override the "
    "model's\n"
    "  description (every command that loads a model). An image model sees the whole image, its "
    "center\n"
    "  cropped to the input's aspect and resampled.\n"
    "Faces: a face model sees each face BlazeFace finds, cropped square and turned so the eyes "
    "are\n"
    "  level (--align off: upright crops); --faces auto (default) takes an image that one face\n"
    "  fills (a face crop) whole, detect always looks for faces, whole never does. --detector DIR\n"
    "  holds blazeface.json (default: blazeface beside the model's folder, else "
    "models/blazeface).\n"
    "Kernel sets: --kernels or the CNNLENS_KERNELS environment variable; default: the best "
    "compiled.\n"
    "  On x86-64 the simd set runs its AVX-512 copy when the CPU has one; simd-avx2 (or\n"
    "  CNNLENS_SIMD=avx2) is the AVX2 copy. In wasm, cnnlens-fma.js (run with node\n"
    "  --experimental-wasm-relaxed-simd) has simd-fma (relaxed SIMD's fused multiply-add) first\n"
    "  and simd (SIMD128 multiply, then add) second.\n"
    "Threads: --threads N (any command) or CNNLENS_THREADS; default: every core up to 8, 1 for "
    "bench.\n"
    "Gradients: --precision exact|float (any command) or CNNLENS_PRECISION. exact (default) sums\n"
    "  each dot product of the gradient's forward pass in double and rounds once, so a ReLU or\n"
    "  max pool within float rounding of its threshold decides as exact arithmetic does; float\n"
    "  sums in float as the forward pass does (Winograd included), PyTorch float32's accuracy\n"
    "  at about half the cost.\n";
}

int main(int argc, char** argv) {
    using namespace cnnlens::cli;
    if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") ||
        !std::strcmp(argv[1], "-h")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string cmd = argv[1];
    // evaluate, merge and sanity write JSON to a file (--json F); elsewhere --json is a switch.
    const bool json_file = cmd == "evaluate" || cmd == "merge" || cmd == "sanity";
    Args args(argc, argv, 2,
              json_file ? std::vector<std::string>{"help", "lenient"}
                        : std::vector<std::string>{"json", "help", "lenient", "profile", "roofline",
                                                   "names", "tsv", "memory"});
    if (!args.error().empty()) return fail(args.error());
    // Threads for the kernels: --threads N, else CNNLENS_THREADS, else every core (up to 8) for
    // the work commands and 1 for bench, whose figures are per thread count.
    {
        std::string t = args.get("threads");
        if (t.empty() && std::getenv("CNNLENS_THREADS")) t = std::getenv("CNNLENS_THREADS");
        int n = cmd == "bench"
                    ? 1
                    : static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 8u));
        if (!t.empty()) {
            char* end = nullptr;
            const long v = std::strtol(t.c_str(), &end, 10);
            if (!end || *end != 0 || v < 1 || v > 64)
                return fail("--threads must be 1..64, got '" + t + "'");
            n = static_cast<int>(v);
        }
        cnnlens::set_kernel_threads(n);
        if (cnnlens::kernel_threads() != n && !t.empty())
            std::fprintf(stderr, "cnnlens: this build runs %d thread%s (asked for %d)\n",
                         cnnlens::kernel_threads(), cnnlens::kernel_threads() == 1 ? "" : "s", n);
    }
    // How gradients round their forward pass: --precision exact|float (any command), else
    // CNNLENS_PRECISION, else exact (see TapePrecision in core/graph/executor.h).
    {
        std::string p = args.get("precision");
        const bool from_env = p.empty() && std::getenv("CNNLENS_PRECISION");
        if (from_env) p = std::getenv("CNNLENS_PRECISION");
        if (!p.empty()) {
            const auto v = cnnlens::parse_tape_precision(p);
            if (!v)
                return fail(std::string(from_env ? "CNNLENS_PRECISION" : "--precision") +
                            " must be exact or float, got '" + p + "'");
            cnnlens::set_default_tape_precision(*v);
        }
    }
    if (cmd == "predict") return cmd_predict(args);
    if (cmd == "model-info") return cmd_model_info(args);
    if (cmd == "explain") return cmd_explain(args);
    if (cmd == "methods") return cmd_methods(args);
    if (cmd == "confusion") return cmd_confusion(args);
    if (cmd == "filters") return cmd_filters(args);
    if (cmd == "featuremaps") return cmd_featuremaps(args);
    if (cmd == "report") return cmd_report(args);
    if (cmd == "bench") return cmd_bench(args);
    if (cmd == "run") return cmd_run(args);
    if (cmd == "evaluate") return cmd_evaluate(args);
    if (cmd == "merge") return cmd_merge(args);
    if (cmd == "sanity") return cmd_sanity(args);
    std::fprintf(stderr, "cnnlens: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
    return 2;
}
