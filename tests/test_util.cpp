#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <cstdio>

#include "core/eval/dataset.h"
#include "core/explain/probe.h"
#include "core/image/encode.h"
#include "core/import/model.h"
#include "core/kernels/kernels.h"

namespace cnnlens::test {

std::string source_path(const std::string& relative) {
    return std::string(CNNLENS_SOURCE_DIR) + "/" + relative;
}

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
    auto h = decode_npy_header(b, path);
    if (!h) {
        a.error = h.status().message();
        return a;
    }
    const bool f8 = h->descr == "<f8";
    if (!f8 && h->descr != "<f4") {
        a.error = path + ": dtype is not '<f4' or '<f8': " + h->descr;
        return a;
    }
    const size_t elem = f8 ? 8 : 4, n = static_cast<size_t>(h->count);
    if (h->data_offset + n * elem != b.size()) {
        a.error = path + ": " + std::to_string(n) + " elements do not fill " +
                  std::to_string(b.size() - h->data_offset) + " bytes";
        return a;
    }
    for (int k = 0; k < h->shape.rank(); ++k) a.shape.push_back(h->shape[k]);
    a.values.resize(n);
    const unsigned char* p = b.data() + h->data_offset;
    for (size_t i = 0; i < n; ++i) {
        if (f8) {
            std::memcpy(&a.values[i], p + i * 8, 8);
        } else {
            float f;
            std::memcpy(&f, p + i * 4, 4);
            a.values[i] = f;
        }
    }
    return a;
}

Tensor random_tensor(const Shape& shape, Rng& rng, float lo, float hi) {
    Tensor t(shape);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
    return t;
}

Tensor random_image(int h, int w, uint64_t seed) {
    Rng rng(seed);
    return random_tensor({1, h, w, 1}, rng, 0.f, 1.f);
}

int layer_node(const GraphProbe& probe, const std::string& name) {
    for (const LayerInfo& l : probe.layers())
        if (l.name == name) return l.node;
    ADD_FAILURE() << "no layer " << name;
    return -1;
}

double mean_abs_diff(const Image& a, const Image& b) {
    if (a.width != b.width || a.height != b.height || a.channels != b.channels) return 1e9;
    double sum = 0;
    for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(a.pixels[i] - b.pixels[i]);
    return sum / static_cast<double>(a.pixels.size());
}

double rel_l2(const float* a, const float* b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += double(b[i]) * b[i];
    }
    return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
    return m;
}

Image rotate_image(const Image& img, double degrees, double cx, double cy) {
    Image out = img;
    const double a = degrees * 3.14159265358979323846 / 180, c = std::cos(a), s = std::sin(a);
    const int ch = img.channels;
    const auto px = [&](int x, int y, int k) {
        x = std::clamp(x, 0, img.width - 1), y = std::clamp(y, 0, img.height - 1);
        return static_cast<double>(img.pixels[(static_cast<size_t>(y) * img.width + x) * ch + k]);
    };
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            const double sx = c * dx + s * dy + cx - 0.5, sy = -s * dx + c * dy + cy - 0.5;
            const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
            const double fx = sx - x0, fy = sy - y0;
            for (int k = 0; k < ch; ++k) {
                const double v = (1 - fy) * ((1 - fx) * px(x0, y0, k) + fx * px(x0 + 1, y0, k)) +
                                 fy * ((1 - fx) * px(x0, y0 + 1, k) + fx * px(x0 + 1, y0 + 1, k));
                out.pixels[(static_cast<size_t>(y) * img.width + x) * ch + k] =
                    static_cast<uint8_t>(std::lround(v));
            }
        }
    return out;
}

Image group_photo() {
    constexpr int kFactor = 3, kTile = 48 * kFactor, kGap = 48, kColumns = 5;
    auto data = read_csv_dataset(source_path("tests/data/eval/fer2013_20.csv"));
    EXPECT_TRUE(data.has_value()) << data.status().message();
    if (!data) return {};
    const int n = static_cast<int>(data->items.size()), rows = (n + kColumns - 1) / kColumns;
    Image g;
    g.width = kColumns * (kTile + kGap) + kGap;
    g.height = rows * (kTile + kGap) + kGap;
    g.channels = 1;
    g.pixels.assign(static_cast<size_t>(g.width) * g.height, 128);
    for (int i = 0; i < n; ++i) {
        const Image& face = data->items[static_cast<size_t>(i)].image;
        const int ox = kGap + (i % kColumns) * (kTile + kGap),
                  oy = kGap + (i / kColumns) * (kTile + kGap);
        for (int y = 0; y < kTile; ++y)
            for (int x = 0; x < kTile; ++x)
                g.pixels[static_cast<size_t>(oy + y) * g.width + ox + x] =
                    face.pixels[static_cast<size_t>(y / kFactor) * face.width + x / kFactor];
    }
    return g;
}

}  // namespace cnnlens::test
