// Leaks one allocation on purpose. The native-asan suite runs it as the test
// LeakSanitizer.IsInEffect, which passes only when LeakSanitizer reports the leak: proof that
// the suite's ASAN_OPTIONS (detect_leaks=1) are in effect, so the other tests are leak-checked.
#include <cstdio>
#include <cstdlib>

int main() {
    static void* volatile kept;
    void* p = std::malloc(4242);
    kept = p;
    kept = nullptr;  // the only pointer is gone: a definite leak at exit
    std::printf("leaked 4242 bytes\n");
    return 0;
}
