// The page's forward-pass benchmark (window.cnnlensTest.benchForward, used by bench/browser.mjs):
// the loaded classifier on a seeded random batch through GraphProbe, as the explanations run it.
#pragma once
#include <string>

namespace cnnlens::app {

class Session;

// Runs `runs` forward passes of a batch of `batch` images with `threads` kernel threads (clamped
// to what the build has; the previous count is restored) and returns
// {"ms_per_image":m,"batch":b,"runs":r,"threads":t,"kernels":"simd"} (median pass), or
// {"error":"..."} when the session has no model, is busy, or an argument is out of range.
std::string bench_forward_json(Session& s, int batch, int runs, int threads);

}  // namespace cnnlens::app
