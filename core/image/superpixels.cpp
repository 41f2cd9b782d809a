// SLIC, quickshift and Felzenszwalb superpixels (scikit-image 0.19's algorithms), plus segment
// boundaries.
#include "core/image/superpixels.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

#include "core/base/rng.h"

namespace cnnlens {

namespace {

struct Planar {
    int height = 0, width = 0, channels = 0;
    std::vector<double> v;  // [H, W, C]
};

Expected<Planar> read_image(const Tensor& image, const char* who) {
    const Shape& s = image.shape();
    const bool ok = (s.rank() == 3) || (s.rank() == 4 && s[0] == 1);
    if (!ok || image.empty())
        return invalid_argument(std::string(who) + ": image " + s.str() +
                                " must be [H,W,C] or [1,H,W,C]");
    Planar p;
    p.height = static_cast<int>(s.dim(-3));
    p.width = static_cast<int>(s.dim(-2));
    p.channels = static_cast<int>(s.dim(-1));
    if (p.channels != 1 && p.channels != 3)
        return invalid_argument(std::string(who) + ": image " + s.str() + " has " +
                                std::to_string(p.channels) +
                                " channels; expected 1 (gray) or 3 (RGB)");
    p.v.assign(image.data(), image.data() + image.size());
    return p;
}

void stretch_to_unit(Planar& img) {
    const auto [lo, hi] = std::minmax_element(img.v.begin(), img.v.end());
    const double mn = *lo, range = *hi - *lo;
    for (double& x : img.v) x -= mn;
    if (range != 0)
        for (double& x : img.v) x /= range;
}

double srgb_to_linear(double v) {
    return v > 0.04045 ? std::pow((v + 0.055) / 1.055, 2.4) : v / 12.92;
}
double lab_f(double t) { return t > 0.008856 ? std::cbrt(t) : 7.787 * t + 16.0 / 116.0; }

// skimage.color.rgb2lab (D65, 2 degrees). Gray keeps L* only: a* and b* of a gray are 0.
void to_lab(Planar& img) {
    const size_t n = static_cast<size_t>(img.height) * img.width;
    if (img.channels == 1) {
        for (double& x : img.v) x = 116.0 * lab_f(srgb_to_linear(x)) - 16.0;
        return;
    }
    for (size_t i = 0; i < n; ++i) {
        double* p = &img.v[3 * i];
        const double r = srgb_to_linear(p[0]), g = srgb_to_linear(p[1]), b = srgb_to_linear(p[2]);
        const double fx = lab_f((0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047);
        const double fy = lab_f(0.212671 * r + 0.715160 * g + 0.072169 * b);
        const double fz = lab_f((0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883);
        p[0] = 116.0 * fy - 16.0;
        p[1] = 500.0 * (fx - fy);
        p[2] = 200.0 * (fy - fz);
    }
}

int reflect_index(int i, int n) {
    while (i < 0 || i >= n) i = i < 0 ? -i - 1 : 2 * n - i - 1;
    return i;
}

// scipy.ndimage.gaussian_filter over y and x: mode 'reflect', truncate 4.
void gaussian_filter(Planar& img, double sigma) {
    if (sigma <= 0) return;
    const int r = static_cast<int>(4.0 * sigma + 0.5);
    std::vector<double> k(static_cast<size_t>(2 * r + 1));
    double sum = 0;
    for (int i = -r; i <= r; ++i)
        sum += k[static_cast<size_t>(i + r)] = std::exp(-0.5 * i * i / (sigma * sigma));
    for (double& x : k) x /= sum;
    const int h = img.height, w = img.width, c = img.channels;
    std::vector<double> tmp(img.v.size());
    auto pass = [&](const std::vector<double>& src, std::vector<double>& dst, bool along_x) {
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int ch = 0; ch < c; ++ch) {
                    double acc = 0;
                    for (int i = -r; i <= r; ++i) {
                        const int yy = along_x ? y : reflect_index(y + i, h);
                        const int xx = along_x ? reflect_index(x + i, w) : x;
                        acc += k[static_cast<size_t>(i + r)] *
                               src[(static_cast<size_t>(yy) * w + xx) * c + ch];
                    }
                    dst[(static_cast<size_t>(y) * w + x) * c + ch] = acc;
                }
    };
    pass(img.v, tmp, false);
    pass(tmp, img.v, true);
}

// Splits `raw` labels into 4-connected pieces. Pieces of at least min_size pixels (or the
// largest, if none is) become segments; every smaller piece joins the adjacent segment it shares
// most border with. Segments are numbered in scan order.
Segmentation connected_segments(const std::vector<int>& raw, int h, int w, int min_size) {
    const int n = h * w;
    std::vector<int> piece(static_cast<size_t>(n), -1);
    std::vector<std::vector<int>> pixels;
    const int dy[4] = {-1, 1, 0, 0}, dx[4] = {0, 0, -1, 1};
    for (int start = 0; start < n; ++start) {
        if (piece[static_cast<size_t>(start)] >= 0) continue;
        const int id = static_cast<int>(pixels.size());
        std::vector<int> members = {start};
        piece[static_cast<size_t>(start)] = id;
        for (size_t head = 0; head < members.size(); ++head) {
            const int p = members[head], y = p / w, x = p % w;
            for (int d = 0; d < 4; ++d) {
                const int yy = y + dy[d], xx = x + dx[d];
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                const int q = yy * w + xx;
                if (piece[static_cast<size_t>(q)] < 0 &&
                    raw[static_cast<size_t>(q)] == raw[static_cast<size_t>(p)]) {
                    piece[static_cast<size_t>(q)] = id;
                    members.push_back(q);
                }
            }
        }
        pixels.push_back(std::move(members));
    }

    const size_t np = pixels.size();
    std::vector<int> owner(np, -1);
    size_t largest = 0;
    for (size_t i = 0; i < np; ++i) {
        if (static_cast<int>(pixels[i].size()) >= min_size) owner[i] = static_cast<int>(i);
        if (pixels[i].size() > pixels[largest].size()) largest = i;
    }
    owner[largest] = static_cast<int>(largest);
    std::vector<int> border(np, 0);
    for (bool pending = true; pending;) {
        pending = false;
        for (size_t i = 0; i < np; ++i) {
            if (owner[i] >= 0) continue;
            std::vector<int> touched;
            for (int p : pixels[i]) {
                const int y = p / w, x = p % w;
                for (int d = 0; d < 4; ++d) {
                    const int yy = y + dy[d], xx = x + dx[d];
                    if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                    const int o =
                        owner[static_cast<size_t>(piece[static_cast<size_t>(yy * w + xx)])];
                    if (o < 0) continue;
                    if (border[static_cast<size_t>(o)]++ == 0) touched.push_back(o);
                }
            }
            int best = -1;
            for (int o : touched)
                if (best < 0 ||
                    border[static_cast<size_t>(o)] > border[static_cast<size_t>(best)] ||
                    (border[static_cast<size_t>(o)] == border[static_cast<size_t>(best)] &&
                     o < best))
                    best = o;
            for (int o : touched) border[static_cast<size_t>(o)] = 0;
            owner[i] = best;
            pending = pending || best < 0;
        }
    }

    Segmentation s;
    s.height = h;
    s.width = w;
    s.labels.assign(static_cast<size_t>(n), 0);
    std::vector<int> renumber(np, -1);
    for (int p = 0; p < n; ++p) {
        int& r = renumber[static_cast<size_t>(
            owner[static_cast<size_t>(piece[static_cast<size_t>(p)])])];
        if (r < 0) r = s.count++;
        s.labels[static_cast<size_t>(p)] = r;
    }
    return s;
}

// skimage.util.regular_grid for the shape (1, h, w): start and step per axis (y, x).
struct Grid {
    int start_y = 0, step_y = 1, start_x = 0, step_x = 1;
};

Grid regular_grid(int h, int w, int n_points) {
    const double shape[3] = {1.0, static_cast<double>(h), static_cast<double>(w)};
    const double space = static_cast<double>(h) * w;
    Grid g;
    if (space <= n_points) return g;
    int order[3] = {0, 1, 2};
    std::stable_sort(order, order + 3, [&](int a, int b) { return shape[a] < shape[b]; });
    double sorted[3], step[3];
    for (int i = 0; i < 3; ++i) sorted[i] = shape[order[i]];
    for (double& s : step) s = std::pow(space / n_points, 1.0 / 3.0);
    auto all_fit = [&] {
        return sorted[0] >= step[0] && sorted[1] >= step[1] && sorted[2] >= step[2];
    };
    if (!all_fit()) {
        for (int d = 0; d < 2; ++d) {
            step[d] = sorted[d];
            double rest = 1;
            for (int e = d + 1; e < 3; ++e) rest *= sorted[e];
            for (int e = d + 1; e < 3; ++e) step[e] = std::pow(rest / n_points, 1.0 / (2 - d));
            if (all_fit()) break;
        }
    }
    double by_axis[3];
    for (int i = 0; i < 3; ++i) by_axis[order[i]] = step[i];
    g.start_y = static_cast<int>(std::floor(by_axis[1] / 2));
    g.start_x = static_cast<int>(std::floor(by_axis[2] / 2));
    g.step_y = std::max(1, static_cast<int>(std::nearbyint(by_axis[1])));
    g.step_x = std::max(1, static_cast<int>(std::nearbyint(by_axis[2])));
    return g;
}

}  // namespace

Expected<Segmentation> slic(const Tensor& image, const SlicParams& p) {
    auto read = read_image(image, "slic");
    if (!read) return read.status();
    Planar img = std::move(read.value());
    if (p.n_segments < 1)
        return invalid_argument("slic: n_segments " + std::to_string(p.n_segments) +
                                " must be >= 1");
    if (!(p.compactness > 0))
        return invalid_argument("slic: compactness " + std::to_string(p.compactness) +
                                " must be > 0");
    if (p.max_iter < 1)
        return invalid_argument("slic: max_iter " + std::to_string(p.max_iter) + " must be >= 1");
    stretch_to_unit(img);
    to_lab(img);
    gaussian_filter(img, p.sigma);
    const int h = img.height, w = img.width, c = img.channels;
    for (double& x : img.v) x /= p.compactness;

    const Grid g = regular_grid(h, w, p.n_segments);
    struct Centre {
        double y, x, colour[3];
        bool alive;
    };
    std::vector<Centre> centres;
    for (int y = g.start_y; y < h; y += g.step_y)
        for (int x = g.start_x; x < w; x += g.step_x)
            centres.push_back({double(y), double(x), {0, 0, 0}, true});
    const int step = std::max(g.step_y, g.step_x);
    const double spatial_weight = 1.0 / (double(step) * step);

    const size_t n = static_cast<size_t>(h) * w;
    std::vector<int> label(n, -1), previous;
    std::vector<double> distance(n);
    for (int iter = 0; iter < p.max_iter; ++iter) {
        std::fill(distance.begin(), distance.end(), DBL_MAX);
        for (size_t k = 0; k < centres.size(); ++k) {
            const Centre& ct = centres[k];
            if (!ct.alive) continue;
            const int y0 = static_cast<int>(std::max(ct.y - 2 * g.step_y, 0.0));
            const int y1 = static_cast<int>(std::min(ct.y + 2 * g.step_y + 1, double(h)));
            const int x0 = static_cast<int>(std::max(ct.x - 2 * g.step_x, 0.0));
            const int x1 = static_cast<int>(std::min(ct.x + 2 * g.step_x + 1, double(w)));
            for (int y = y0; y < y1; ++y)
                for (int x = x0; x < x1; ++x) {
                    const size_t i = static_cast<size_t>(y) * w + x;
                    double d = ((ct.y - y) * (ct.y - y) + (ct.x - x) * (ct.x - x)) * spatial_weight;
                    for (int ch = 0; ch < c; ++ch) {
                        const double t = img.v[i * c + ch] - ct.colour[ch];
                        d += t * t;
                    }
                    if (distance[i] > d) {
                        distance[i] = d;
                        label[i] = static_cast<int>(k);
                    }
                }
        }
        if (label == previous) break;
        previous = label;
        std::vector<double> sum(centres.size() * 5, 0.0);
        std::vector<int> count(centres.size(), 0);
        for (size_t i = 0; i < n; ++i) {
            const int k = label[i];
            if (k < 0) continue;
            double* s = &sum[static_cast<size_t>(k) * 5];
            s[0] += static_cast<double>(i / static_cast<size_t>(w));
            s[1] += static_cast<double>(i % static_cast<size_t>(w));
            for (int ch = 0; ch < c; ++ch) s[2 + ch] += img.v[i * c + ch];
            ++count[static_cast<size_t>(k)];
        }
        for (size_t k = 0; k < centres.size(); ++k) {
            const int m = count[k];
            if (m == 0) {
                centres[k].alive = false;
                continue;
            }
            centres[k].y = sum[k * 5] / m;
            centres[k].x = sum[k * 5 + 1] / m;
            for (int ch = 0; ch < c; ++ch) centres[k].colour[ch] = sum[k * 5 + 2 + ch] / m;
        }
    }
    // Pixels no window reached (none on skimage's grids) become one-pixel pieces, merged below.
    for (size_t i = 0; i < n; ++i)
        if (label[i] < 0) label[i] = -1 - static_cast<int>(i);
    const double segment_size = double(n) / static_cast<double>(centres.size());
    return connected_segments(label, h, w, static_cast<int>(p.min_size_factor * segment_size));
}

Expected<Segmentation> quickshift(const Tensor& image, const QuickshiftParams& p) {
    auto read = read_image(image, "quickshift");
    if (!read) return read.status();
    Planar img = std::move(read.value());
    if (!(p.kernel_size >= 1))
        return invalid_argument("quickshift: kernel_size " + std::to_string(p.kernel_size) +
                                " must be >= 1");
    to_lab(img);
    gaussian_filter(img, p.sigma);
    for (double& x : img.v) x *= p.ratio;
    const int h = img.height, w = img.width, c = img.channels;
    const int kw = static_cast<int>(std::ceil(3 * p.kernel_size));
    const double inv = -0.5 / (p.kernel_size * p.kernel_size);
    auto dist2 = [&](int y, int x, int yy, int xx) {
        const double* a = &img.v[(static_cast<size_t>(y) * w + x) * c];
        const double* b = &img.v[(static_cast<size_t>(yy) * w + xx) * c];
        double d = double(y - yy) * (y - yy) + double(x - xx) * (x - xx);
        for (int ch = 0; ch < c; ++ch) d += (a[ch] - b[ch]) * (a[ch] - b[ch]);
        return d;
    };

    const size_t n = static_cast<size_t>(h) * w;
    std::vector<double> density(n, 0.0);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            double s = 0;
            for (int yy = std::max(y - kw, 0); yy < std::min(y + kw + 1, h); ++yy)
                for (int xx = std::max(x - kw, 0); xx < std::min(x + kw + 1, w); ++xx)
                    s += std::exp(dist2(y, x, yy, xx) * inv);
            density[static_cast<size_t>(y) * w + x] = s;
        }
    Rng rng(p.seed);
    for (double& d : density) d += 1e-5 * rng.normal();

    std::vector<int> parent(n);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const size_t i = static_cast<size_t>(y) * w + x;
            double closest = DBL_MAX;
            parent[i] = static_cast<int>(i);
            for (int yy = std::max(y - kw, 0); yy < std::min(y + kw + 1, h); ++yy)
                for (int xx = std::max(x - kw, 0); xx < std::min(x + kw + 1, w); ++xx) {
                    if (!(density[static_cast<size_t>(yy) * w + xx] > density[i])) continue;
                    const double d = dist2(y, x, yy, xx);
                    if (d < closest) {
                        closest = d;
                        parent[i] = yy * w + xx;
                    }
                }
            if (std::sqrt(closest) > p.max_dist) parent[i] = static_cast<int>(i);
        }
    std::vector<int> root(n);
    for (size_t i = 0; i < n; ++i) {
        int r = static_cast<int>(i);
        while (parent[static_cast<size_t>(r)] != r) r = parent[static_cast<size_t>(r)];
        root[i] = r;
    }
    return connected_segments(root, h, w, std::max(1, p.min_size));
}

Expected<Segmentation> felzenszwalb(const Tensor& image, const FelzenszwalbParams& p) {
    auto read = read_image(image, "felzenszwalb");
    if (!read) return read.status();
    Planar img = std::move(read.value());
    if (!(p.scale > 0) || p.min_size < 1)
        return invalid_argument("felzenszwalb: scale " + std::to_string(p.scale) +
                                " and min_size " + std::to_string(p.min_size) +
                                " must be positive");
    gaussian_filter(img, p.sigma);
    const int h = img.height, w = img.width, c = img.channels;
    const double scale = p.scale / 255.0;
    struct Edge {
        double cost;
        int a, b;
    };
    std::vector<Edge> edges;
    edges.reserve(static_cast<size_t>(4) * h * w);
    auto add = [&](int y0, int x0, int y1, int x1) {
        double d = 0;
        for (int ch = 0; ch < c; ++ch) {
            const double t = img.v[(static_cast<size_t>(y0) * w + x0) * c + ch] -
                             img.v[(static_cast<size_t>(y1) * w + x1) * c + ch];
            d += t * t;
        }
        edges.push_back({std::sqrt(d), y0 * w + x0, y1 * w + x1});
    };
    // skimage's order: right, down, down-right, up-right edges, each in scan order.
    for (int y = 0; y < h; ++y)
        for (int x = 1; x < w; ++x) add(y, x, y, x - 1);
    for (int y = 1; y < h; ++y)
        for (int x = 0; x < w; ++x) add(y, x, y - 1, x);
    for (int y = 1; y < h; ++y)
        for (int x = 1; x < w; ++x) add(y, x, y - 1, x - 1);
    for (int y = 0; y + 1 < h; ++y)
        for (int x = 1; x < w; ++x) add(y, x, y + 1, x - 1);
    std::stable_sort(edges.begin(), edges.end(),
                     [](const Edge& l, const Edge& r) { return l.cost < r.cost; });

    const size_t n = static_cast<size_t>(h) * w;
    std::vector<int> parent(n);
    for (size_t i = 0; i < n; ++i) parent[i] = static_cast<int>(i);
    std::vector<int> size(n, 1);
    std::vector<double> inner(n, 0.0);
    auto root = [&](int i) {
        int r = i;
        while (parent[static_cast<size_t>(r)] != r) r = parent[static_cast<size_t>(r)];
        while (parent[static_cast<size_t>(i)] != r) {
            const int next = parent[static_cast<size_t>(i)];
            parent[static_cast<size_t>(i)] = r;
            i = next;
        }
        return r;
    };
    // The lower index stays the root, so labels come out in scan order of first pixels.
    auto join = [&](int a, int b) {
        const int lo = std::min(a, b), hi = std::max(a, b);
        parent[static_cast<size_t>(hi)] = lo;
        size[static_cast<size_t>(lo)] += size[static_cast<size_t>(hi)];
        return lo;
    };
    for (const Edge& e : edges) {
        const int a = root(e.a), b = root(e.b);
        if (a == b) continue;
        // skimage keeps the thresholds in single precision.
        const float ta = static_cast<float>(inner[static_cast<size_t>(a)] +
                                            scale / size[static_cast<size_t>(a)]);
        const float tb = static_cast<float>(inner[static_cast<size_t>(b)] +
                                            scale / size[static_cast<size_t>(b)]);
        if (e.cost < std::min(ta, tb)) inner[static_cast<size_t>(join(a, b))] = e.cost;
    }
    for (const Edge& e : edges) {
        const int a = root(e.a), b = root(e.b);
        if (a != b && (size[static_cast<size_t>(a)] < p.min_size ||
                       size[static_cast<size_t>(b)] < p.min_size))
            join(a, b);
    }
    Segmentation out{h, w, 0, std::vector<int>(n)};
    std::vector<int> id(n, -1);
    for (size_t i = 0; i < n; ++i) {
        const size_t r = static_cast<size_t>(root(static_cast<int>(i)));
        if (id[r] < 0) id[r] = out.count++;
        out.labels[i] = id[r];
    }
    return out;
}

std::vector<uint8_t> segment_boundaries(std::span<const int> labels, int height, int width) {
    std::vector<uint8_t> b(static_cast<size_t>(height) * width, 0);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            const size_t i = static_cast<size_t>(y) * width + x;
            const int l = labels[i];
            if ((x > 0 && labels[i - 1] != l) || (x + 1 < width && labels[i + 1] != l) ||
                (y > 0 && labels[i - width] != l) || (y + 1 < height && labels[i + width] != l))
                b[i] = 1;
        }
    return b;
}

}  // namespace cnnlens
