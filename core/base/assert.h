// Invariant checks inside core code. Unlike <cassert>, CNNLENS_ASSERT stays on in release
// builds: a broken invariant in a numerical kernel must stop, not produce quiet garbage.
#pragma once
#include <cstdio>
#include <cstdlib>

#define CNNLENS_ASSERT(cond)                                                                 \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "cnnlens: assertion failed: %s (%s:%d)\n", #cond, __FILE__, \
                         __LINE__);                                                          \
            std::abort();                                                                    \
        }                                                                                    \
    } while (0)
