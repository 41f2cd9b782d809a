#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
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

NpyArray read_npy(const std::string& path) {
    NpyArray a;
    const std::vector<unsigned char> b = read_file(path);
    if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0) {
        a.error = path + ": not a .npy file (" + std::to_string(b.size()) + " bytes)";
        return a;
    }
    const bool v1 = b[6] == 1;
    const size_t len = v1 ? size_t(b[8]) | size_t(b[9]) << 8
                          : size_t(b[8]) | size_t(b[9]) << 8 | size_t(b[10]) << 16 | size_t(b[11]) << 24;
    const size_t start = v1 ? 10 : 12;
    if (start + len > b.size()) {
        a.error = path + ": header of " + std::to_string(len) + " bytes runs past the end";
        return a;
    }
    const std::string header(b.begin() + start, b.begin() + start + len);
    const bool f8 = header.find("'<f8'") != std::string::npos;
    if (!f8 && header.find("'<f4'") == std::string::npos) {
        a.error = path + ": dtype is not '<f4' or '<f8': " + header;
        return a;
    }
    if (header.find("'fortran_order': False") == std::string::npos) {
        a.error = path + ": not in C order: " + header;
        return a;
    }
    const size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
    int64_t n = 1;
    for (size_t i = open + 1; open != std::string::npos && i < close; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(header[i]))) continue;
        int64_t d = 0;
        for (; i < close && std::isdigit(static_cast<unsigned char>(header[i])); ++i) d = d * 10 + (header[i] - '0');
        a.shape.push_back(d);
        n *= d;
    }
    const size_t elem = f8 ? 8 : 4;
    if (start + len + size_t(n) * elem != b.size()) {
        a.error = path + ": " + std::to_string(n) + " elements do not fill " + std::to_string(b.size() - start - len) + " bytes";
        a.shape.clear();
        return a;
    }
    a.values.resize(size_t(n));
    const unsigned char* p = b.data() + start + len;
    for (int64_t i = 0; i < n; ++i) {
        if (f8) {
            std::memcpy(&a.values[size_t(i)], p + i * 8, 8);
        } else {
            float f;
            std::memcpy(&f, p + i * 4, 4);
            a.values[size_t(i)] = f;
        }
    }
    return a;
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
