#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>

#include "core/import/model.h"
#include "core/kernels/kernels.h"

namespace cnnlens::test {

std::string source_path(const std::string& relative) { return std::string(CNNLENS_SOURCE_DIR) + "/" + relative; }

const Model& default_model() {
    static const Model m = [] {
        auto r = load_model(source_path("models/fer2013-mini-xception"));
        EXPECT_TRUE(r.has_value()) << r.status().message();
        return r ? std::move(r).value() : Model();
    }();
    return m;
}

std::string kernel_test_name(const KernelSet& k) {
    std::string s(k.name);
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

std::vector<unsigned char> read_file(const std::string& path) {
    std::vector<unsigned char> bytes;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return bytes;
    unsigned char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(f);
    return bytes;
}

std::vector<float> read_f32(const std::string& path) {
    std::vector<unsigned char> b = read_file(path);
    std::vector<float> v(b.size() / 4);
    if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
}

Tensor random_tensor(const Shape& shape, Rng& rng, float lo, float hi) {
    Tensor t(shape);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
    return t;
}

double rel_l2(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) { num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]); den += double(b[i]) * b[i]; }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
    return m;
}

}  // namespace cnnlens::test
