// Text in a bitmap font, colour bars and captioned grids (see draw.h).
#include "core/image/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <stb_easy_font.h>

#include "core/image/overlay.h"
#include "core/image/render_internal.h"

namespace cnnlens {

using namespace render_detail;

namespace {

std::string printable(std::string_view text) {
    std::string s(text);
    for (char& c : s)
        if (c != '\n' && (c < 32 || c > 126)) c = '?';
    return s;
}

struct Quad {
    int x0, y0, x1, y1;
};

// stb_easy_font's quads for the text at the origin, in font pixels.
std::vector<Quad> font_quads(std::string_view text) {
    std::string s = printable(text);
    std::vector<char> buf(s.size() * 1024 + 64);
    const int n =
        stb_easy_font_print(0.f, 0.f, s.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
    std::vector<Quad> quads(static_cast<size_t>(n));
    for (int q = 0; q < n; ++q) {
        float v0[2], v2[2];
        std::memcpy(v0, &buf[static_cast<size_t>(q) * 64], sizeof v0);
        std::memcpy(v2, &buf[static_cast<size_t>(q) * 64 + 32], sizeof v2);
        quads[static_cast<size_t>(q)] = {
            static_cast<int>(std::lround(v0[0])), static_cast<int>(std::lround(v0[1])),
            static_cast<int>(std::lround(v2[0])), static_cast<int>(std::lround(v2[1]))};
    }
    return quads;
}

// Rows [top, bottom) that carry ink, in font pixels; labels are centred on their ink.
void ink_rows(std::string_view text, int& top, int& bottom) {
    top = std::numeric_limits<int>::max();
    bottom = 0;
    for (const Quad& q : font_quads(text)) {
        top = std::min(top, q.y0);
        bottom = std::max(bottom, q.y1);
    }
    if (bottom == 0) top = 0;
}

std::string tick_label(float v, float lo, float hi) {
    if (std::fabs(v) <= 1e-6f * std::max(std::fabs(lo), std::fabs(hi))) v = 0.f;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(v));
    return buf;
}

}  // namespace

int text_width(std::string_view text, int scale) {
    std::string s = printable(text);
    return stb_easy_font_width(s.data()) * scale;
}

int text_height(std::string_view text, int scale) {
    std::string s = printable(text);
    return stb_easy_font_height(s.data()) * scale;
}

void draw_text(Image& img, int x, int y, std::string_view text, Rgba color, int scale) {
    CNNLENS_ASSERT(img.channels == 4 && scale >= 1);
    for (const Quad& q : font_quads(text))
        fill_rect(img, x + q.x0 * scale, y + q.y0 * scale, x + q.x1 * scale, y + q.y1 * scale,
                  color);
}

Image label_image(std::string_view text, int scale, Rgba color, Rgba background, int pad) {
    Image img = blank(std::max(text_width(text, scale), 1) + 2 * pad,
                      std::max(text_height(text, scale), 1) + 2 * pad, background);
    draw_text(img, pad, pad, text, color, scale);
    return img;
}

Image colorbar(Colormap cmap, float lo, float hi, int width, int height, bool vertical,
               int text_scale) {
    CNNLENS_ASSERT(width > 0 && height > 0 && text_scale >= 1);
    const int s = text_scale, tick = 3 * s, gap = 2 * s;
    Image img = blank(width, height, kWhite);
    int ink_top = 0, ink_bottom = 0;
    ink_rows("0123456789.-e+", ink_top, ink_bottom);
    const int ink_h = (ink_bottom - ink_top) * s;
    const auto labels_for = [&](int n) {
        std::vector<std::string> l;
        for (int k = 0; k < n; ++k)
            l.push_back(tick_label(
                lo + (hi - lo) * static_cast<float>(k) / static_cast<float>(n - 1), lo, hi));
        return l;
    };
    const auto widest = [&](const std::vector<std::string>& l) {
        int m = 0;
        for (const auto& t : l) m = std::max(m, text_width(t, s));
        return m;
    };
    // The bar spans [b0, b1) along its axis and [c0, c1) across it; t runs from b0 to b1.
    int b0 = 0, b1 = vertical ? height : width, c0 = 0, c1 = vertical ? width : height;
    std::vector<std::string> labels;
    if (vertical) {
        for (int n : {5, 3, 2}) {
            labels = labels_for(n);
            const int len = height - ink_h - 2;
            if (len / (n - 1) >= ink_h + 2 * s && width - widest(labels) - tick - gap >= 4) break;
            labels.clear();
        }
        if (!labels.empty()) {
            b0 = ink_h / 2 + 1;
            b1 = height - (ink_h - ink_h / 2) - 1;
            c1 = width - widest(labels) - tick - gap;
        }
    } else {
        for (int n : {5, 3, 2}) {
            labels = labels_for(n);
            const int w0 = text_width(labels.front(), s), w1 = text_width(labels.back(), s);
            const int len = width - w0 / 2 - w1 / 2;
            if (len / (n - 1) >= widest(labels) + 4 * s && height - ink_h - tick - gap >= 4) {
                b0 = w0 / 2;
                b1 = width - w1 / 2;
                c1 = height - ink_h - tick - gap;
                break;
            }
            labels.clear();
        }
    }
    if (!labels.empty()) {
        ++b0;
        --b1;
        ++c0;
        --c1;
    }  // room for the outline
    const int len = std::max(b1 - b0, 2);
    for (int i = b0; i < b1; ++i) {
        const float t = static_cast<float>(i - b0) / static_cast<float>(len - 1);
        const Rgba c = colormap_rgba(cmap, vertical ? 1.f - t : t);
        if (vertical)
            fill_rect(img, c0, i, c1, i + 1, c);
        else
            fill_rect(img, i, c0, i + 1, c1, c);
    }
    if (labels.empty()) return img;
    const Rgba edge{64, 64, 64, 255};
    const int e0 = b0 - 1, e1 = b1 + 1, f0 = c0 - 1, f1 = c1 + 1;
    if (vertical) {
        fill_rect(img, f0, e0, f1, e0 + 1, edge);
        fill_rect(img, f0, e1 - 1, f1, e1, edge);
        fill_rect(img, f0, e0, f0 + 1, e1, edge);
        fill_rect(img, f1 - 1, e0, f1, e1, edge);
    } else {
        fill_rect(img, e0, f0, e1, f0 + 1, edge);
        fill_rect(img, e0, f1 - 1, e1, f1, edge);
        fill_rect(img, e0, f0, e0 + 1, f1, edge);
        fill_rect(img, e1 - 1, f0, e1, f1, edge);
    }
    const int n = static_cast<int>(labels.size());
    for (int k = 0; k < n; ++k) {
        const int along =
            b0 + static_cast<int>(std::lround(static_cast<double>(k) * (len - 1) / (n - 1)));
        const std::string& text = labels[static_cast<size_t>(k)];
        if (vertical) {
            const int y = b1 - 1 - (along - b0);
            fill_rect(img, f1, y, f1 + tick, y + s, kBlack);
            draw_text(img, f1 + tick + gap, y - ink_h / 2 - ink_top * s, text, kBlack, s);
        } else {
            fill_rect(img, along, f1, along + s, f1 + tick, kBlack);
            const int w = text_width(text, s);
            const int x = std::clamp(along - w / 2, 0, std::max(width - w, 0));
            draw_text(img, x, f1 + tick + gap - ink_top * s, text, kBlack, s);
        }
    }
    return img;
}

Image grid(const std::vector<Image>& tiles, const GridOptions& o) {
    const int columns = std::max(o.columns, 1), s = o.text_scale, pad = std::max(o.pad, 0);
    const int n = static_cast<int>(tiles.size());
    const int rows = (n + columns - 1) / columns;
    const auto caption = [&](int i) {
        return static_cast<size_t>(i) < o.captions.size()
                   ? std::string_view(o.captions[static_cast<size_t>(i)])
                   : std::string_view();
    };
    std::vector<int> col_w(static_cast<size_t>(columns), 0), row_h(static_cast<size_t>(rows), 0),
        cap_h(static_cast<size_t>(rows), 0);
    for (int i = 0; i < n; ++i) {
        const Image& t = tiles[static_cast<size_t>(i)];
        const size_t c = static_cast<size_t>(i % columns), r = static_cast<size_t>(i / columns);
        col_w[c] = std::max({col_w[c], t.width, text_width(caption(i), s)});
        row_h[r] = std::max(row_h[r], t.height);
        if (!caption(i).empty()) cap_h[r] = std::max(cap_h[r], text_height(caption(i), s) + 2 * s);
    }
    int head_w = 0, head_h = 0;
    for (const auto& t : o.row_headers) head_w = std::max(head_w, text_width(t, s));
    for (size_t c = 0; c < o.column_headers.size() && c < col_w.size(); ++c) {
        head_h = std::max(head_h, text_height(o.column_headers[c], s));
        col_w[c] = std::max(col_w[c], text_width(o.column_headers[c], s));
    }
    // Left / top edges of each column / row.
    std::vector<int> xs(static_cast<size_t>(columns) + 1), ys(static_cast<size_t>(rows) + 1);
    xs[0] = pad + (head_w ? head_w + pad : 0);
    ys[0] = pad + (head_h ? head_h + pad : 0);
    for (size_t c = 0; c < col_w.size(); ++c) xs[c + 1] = xs[c] + col_w[c] + pad;
    for (size_t r = 0; r < row_h.size(); ++r) ys[r + 1] = ys[r] + row_h[r] + cap_h[r] + pad;
    Image out = blank(std::max(xs.back(), 1), std::max(ys.back(), 1), o.background);
    for (int i = 0; i < n; ++i) {
        const Image& tile = tiles[static_cast<size_t>(i)];
        const size_t c = static_cast<size_t>(i % columns), r = static_cast<size_t>(i / columns);
        if (!tile.empty()) {
            const Image rgba = to_rgba(tile);
            const int tx = xs[c] + (col_w[c] - tile.width) / 2,
                      ty = ys[r] + (row_h[r] - tile.height) / 2;
            for (int y = 0; y < tile.height; ++y)
                for (int x = 0; x < tile.width; ++x) {
                    const uint8_t* p = &rgba.pixels[(static_cast<size_t>(y) * tile.width + x) * 4];
                    blend_pixel(out, tx + x, ty + y, {p[0], p[1], p[2], p[3]});
                }
        }
        const std::string_view cap = caption(i);
        if (!cap.empty())
            draw_text(out, xs[c] + (col_w[c] - text_width(cap, s)) / 2, ys[r] + row_h[r] + 2 * s,
                      cap, o.text_color, s);
    }
    for (size_t r = 0; r < o.row_headers.size() && r < row_h.size(); ++r) {
        const std::string& t = o.row_headers[r];
        draw_text(out, pad + head_w - text_width(t, s), ys[r] + (row_h[r] - text_height(t, s)) / 2,
                  t, o.text_color, s);
    }
    for (size_t c = 0; c < o.column_headers.size() && c < col_w.size(); ++c) {
        const std::string& t = o.column_headers[c];
        draw_text(out, xs[c] + (col_w[c] - text_width(t, s)) / 2, pad + head_h - text_height(t, s),
                  t, o.text_color, s);
    }
    return out;
}

Image grid(const std::vector<Image>& tiles, int columns, const std::vector<std::string>& captions,
           int pad, Rgba background) {
    GridOptions o;
    o.columns = columns;
    o.captions = captions;
    o.pad = pad;
    o.background = background;
    return grid(tiles, o);
}

}  // namespace cnnlens
