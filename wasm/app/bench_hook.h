// The page's forward-pass benchmark (window.cnnlensTest.benchForward, used by bench/browser.mjs):
// the loaded classifier on a seeded random batch through GraphProbe, as the explanations run it.
#pragma once
#include <string>

namespace cnnlens::app {

class Session;

// Runs `runs` forward passes of a batch of `batch` images with `threads` kernel threads (clamped
// to what the build has) and returns
// {"ms_per_image":m,"batch":b,"runs":r,"threads":t,"kernels":"simd","passes":[...]} (the median
// pass, and every pass's ms per image in order), with `profile` also "nodes":[[name, op, ms per
// image], ...] of `runs` more passes, slowest first (as `cnnlens bench --profile` prints), or
// {"error":"..."} when the session has no model, is busy, or an argument is out of range.
// The thread count stays until end_bench_threads(): resizing the pool around every call would
// start and join a worker per sample, and a fresh worker in the browser takes milliseconds to
// run (a sample at batch 1 then timed the start-up, not the pass).
std::string bench_forward_json(Session& s, int batch, int runs, int threads, bool profile);
// Puts back the kernel thread count the app had before the benchmark; called on the main thread
// before a job is scheduled (no kernel runs then). Does nothing if no benchmark changed it.
void end_bench_threads();

}  // namespace cnnlens::app
