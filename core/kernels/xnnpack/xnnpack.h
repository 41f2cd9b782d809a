// Controls of the `xnnpack` kernel set (native only, Debian's libXNNPACK). The set itself is
// reached through the registry in core/kernels/kernels.h (xnnpack_kernels()).
#pragma once

namespace cnnlens {

// Number of threads every xnnpack kernel runs on (>= 1; the default is 1). Recreates the one
// pthreadpool the set shares; kernels notice and redo their setup on their next call. Not
// thread-safe: call it only while no xnnpack kernel is running.
void set_xnnpack_threads(int threads);
int xnnpack_threads();
// Puts the pthreadpool's workers to sleep now instead of after their spin-wait.
void park_xnnpack_threads();

}  // namespace cnnlens
