// A main() for the fuzz targets outside libFuzzer:
// `fuzz_replay_T [--mutants N] [--verbose] FILE|DIR...`
// runs LLVMFuzzerTestOneInput on every file (a directory's files in name order), then on N
// seeded mutants of each (bit flips, byte overwrites, cuts, duplicated runs, inserted bytes).
// The test suite runs it on the committed seeds (fuzz/corpus/T/) in the ordinary builds, so
// the ASan build checks each target on every run without a second, coverage-instrumented build
// of core; libFuzzer's guided search stays with scripts/fuzz.sh. Written here because libFuzzer
// has no such driver without -fsanitize=fuzzer, and LLVM's StandaloneFuzzTargetMain.c only
// replays. A crash aborts with the seed's name on stderr; --verbose names each mutant as it runs
// (mutants are the same on every run, so a rerun finds the one).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One random edit of `b`, as libFuzzer's simplest mutators make.
void mutate(std::vector<uint8_t>& b, std::mt19937& rng) {
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % std::max<size_t>(n, 1)); };
    switch (rng() % 5) {
        case 0:  // flip a bit
            if (!b.empty()) b[pick(b.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
            break;
        case 1:  // overwrite a byte with an interesting value
            if (!b.empty()) {
                static constexpr uint8_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40};
                b[pick(b.size())] = kValues[rng() % std::size(kValues)];
            }
            break;
        case 2:  // cut the tail
            b.resize(pick(b.size() + 1));
            break;
        case 3: {  // duplicate a run in place
            if (b.empty()) break;
            const size_t at = pick(b.size()), n = std::min<size_t>(1 + pick(64), b.size() - at);
            std::vector<uint8_t> run(b.begin() + static_cast<std::ptrdiff_t>(at),
                                     b.begin() + static_cast<std::ptrdiff_t>(at + n));
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), run.begin(), run.end());
            break;
        }
        default:  // insert a random byte
            b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)),
                     static_cast<uint8_t>(rng()));
    }
}

}  // namespace

int main(int argc, char** argv) {
    int mutants = 0;
    bool verbose = false;
    std::vector<std::filesystem::path> files;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--mutants" && i + 1 < argc) {
            mutants = std::atoi(argv[++i]);
        } else if (a == "--verbose") {
            verbose = true;
        } else if (std::filesystem::is_directory(a)) {
            std::vector<std::filesystem::path> in_dir;
            for (const auto& e : std::filesystem::directory_iterator(a))
                if (e.is_regular_file()) in_dir.push_back(e.path());
            std::sort(in_dir.begin(), in_dir.end());
            files.insert(files.end(), in_dir.begin(), in_dir.end());
        } else if (std::filesystem::is_regular_file(a)) {
            files.emplace_back(a);
        } else {
            std::fprintf(stderr, "no such file or directory: %s\n", a.c_str());
            return 2;
        }
    }
    if (files.empty()) {
        std::fprintf(stderr,
                     "usage: %s [--mutants N] [--verbose] FILE|DIR... (no input files given)\n",
                     argv[0]);
        return 2;
    }
    long runs = 0;
    for (const auto& f : files) {
        const std::vector<uint8_t> seed = read_file(f);
        std::fprintf(stderr, "%s\n", f.filename().string().c_str());
        LLVMFuzzerTestOneInput(seed.data(), seed.size());
        ++runs;
        // Seeded by the file's name (FNV-1a), so a mutant is the same on every run and machine.
        uint32_t h = 2166136261u;
        for (const char c : f.filename().string()) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
        std::mt19937 rng(h);
        for (int m = 0; m < mutants; ++m) {
            std::vector<uint8_t> b = seed;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits; ++e) mutate(b, rng);
            if (verbose) std::fprintf(stderr, "%s mutant %d\n", f.filename().string().c_str(), m);
            LLVMFuzzerTestOneInput(b.data(), b.size());
            ++runs;
        }
    }
    std::printf("%ld inputs from %zu files ran without a fault\n", runs, files.size());
    return 0;
}
