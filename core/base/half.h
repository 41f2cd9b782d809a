// IEEE 754 half precision to float, for weights stored as float16 (TF.js manifests, ONNX).
#pragma once
#include <cmath>
#include <cstdint>

namespace cnnlens {

inline float half_to_float(uint16_t h) {
    const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = std::ldexp(static_cast<float>(man), -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = std::ldexp(static_cast<float>(man | 0x400), static_cast<int>(exp) - 25);
    return sign ? -v : v;
}

}  // namespace cnnlens
