// Seeded, reproducible random numbers (PCG32): the same seed gives the same stream natively
// and in wasm, which std::mt19937 + std distributions do not guarantee across libraries.
#pragma once
#include <cmath>
#include <cstdint>

namespace cnnlens {

class Rng {
public:
    explicit Rng(uint64_t seed = 0x853c49e6748fea9bULL, uint64_t stream = 0xda3e39cb94b95bdbULL) {
        inc_ = (stream << 1u) | 1u;
        state_ = 0;
        next_u32();
        state_ += seed;
        next_u32();
    }
    uint32_t next_u32() {
        uint64_t old = state_;
        state_ = old * 6364136223846793005ULL + inc_;
        uint32_t xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
        uint32_t rot = static_cast<uint32_t>(old >> 59u);
        return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
    }
    // Uniform in [0, 1) with 24 bits of precision.
    float uniform() { return static_cast<float>(next_u32() >> 8) * (1.0f / 16777216.0f); }
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
    // Uniform integer in [0, n).
    uint32_t below(uint32_t n) {
        return static_cast<uint32_t>((static_cast<uint64_t>(next_u32()) * n) >> 32);
    }
    // Standard normal by Box-Muller (cached second value).
    float normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        float u1 = 0.f;
        while (u1 <= 1e-12f) u1 = uniform();
        float u2 = uniform();
        float r = std::sqrt(-2.0f * std::log(u1));
        spare_ = r * std::sin(6.28318530718f * u2);
        has_spare_ = true;
        return r * std::cos(6.28318530718f * u2);
    }

private:
    uint64_t state_ = 0, inc_ = 0;
    float spare_ = 0.f;
    bool has_spare_ = false;
};

}  // namespace cnnlens
