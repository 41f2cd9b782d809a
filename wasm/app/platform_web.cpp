// The browser platform: GLFW emulation + WebGL2 via Emscripten, the main loop, the job runner
// (sliced with Asyncify in the single-threaded app, a pthread in the threaded one: see "Jobs"),
// the file bridge (drop, picker, paste and example all end in cnnlens_file_buffer, or in
// cnnlens_pixels_buffer for photos the browser decoded) and the test hook's C side. The loader
// (web/loader.js) writes the bundled models into MEMFS before calling main().
// Most of this file is JavaScript in EM_JS bodies, which clang-format would rewrite as C++ (it
// turns === into == =): the formatter leaves the file as written.
// clang-format off
#include <GLES3/gl3.h>
#include <GLFW/glfw3.h>
#include <emscripten.h>
#include <emscripten/heap.h>
#include <emscripten/html5.h>
#include <malloc.h>
#include <unistd.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>
#if defined(__EMSCRIPTEN_PTHREADS__)
#include <pthread.h>

#include <condition_variable>
#include <thread>
#endif

#include "core/base/json_text.h"
#include "core/base/log.h"
#include "core/base/thread_pool.h"
#include "core/kernels/kernels.h"
#include "wasm/app/bench_hook.h"
#include "wasm/app/live.h"
#include "wasm/app/platform.h"
#include "wasm/app/texture.h"
#include "wasm/app/ui.h"

using namespace cnnlens;
using namespace cnnlens::app;

EM_JS(void, js_open_file_dialog, (), { cnnlensPlatform.openFileDialog(); });
EM_JS(void, js_open_example, (const char* path), { cnnlensPlatform.openExample(UTF8ToString(path)); });
EM_JS(void, js_set_cursor, (int shape), { cnnlensPlatform.setCursor(shape); });
EM_JS(double, js_device_pixel_ratio, (), { return window.devicePixelRatio || 1; });
// slice(): a copy, so the Blob never holds a view of wasm memory.
EM_JS(void, js_download, (const char* name, const char* mime, const uint8_t* data, int size), {
    cnnlensPlatform.download(UTF8ToString(name), UTF8ToString(mime), HEAPU8.slice(data, data + size));
});
// Resizes the canvas backing store through Emscripten's Browser helper, which tells the GLFW
// emulation (window and framebuffer size callbacks). glfwSetWindowSize would request fullscreen
// (and pointer lock) whenever the size equals the screen's, e.g. a maximised window.
EM_JS(void, js_set_canvas_size, (int w, int h), { Browser.setCanvasSize(w, h); });
// Live mode's page side (web/live.js).
EM_JS(void, js_live_start, (), { cnnlensLive.start(); });
EM_JS(void, js_live_stop, (), { cnnlensLive.stop(); });
EM_JS(void, js_record_start, (), { cnnlensLive.recordStart(); });
EM_JS(void, js_record_stop, (const char* name), { cnnlensLive.recordStop(UTF8ToString(name)); });
#if !defined(__EMSCRIPTEN_PTHREADS__)
// Queues the single-threaded app's job task (cnnlens_run_job) as a browser task of its own.
EM_JS(void, js_start_job, (), { setTimeout(function() { Module['_cnnlens_run_job'](); }, 0); });
#endif
// True when keys typed now belong to the app (the canvas or nothing in particular has focus),
// not to a text field of the page.
EM_JS(int, js_keys_are_ours, (), {
    const a = document.activeElement;
    return !a || a === document.body || a === Module['canvas'] ? 1 : 0;
});

// The unmasked renderer's name names SwiftShader when WebGL runs in software; browsers that
// hide it (the extension is absent) are taken to have a GPU.
EM_JS(int, js_software_webgl, (), {
    const gl = Module['canvas'].getContext('webgl2');
    const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
    const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
    return /swiftshader|llvmpipe|software/i.test(name) ? 1 : 0;
});

namespace cnnlens::app {
bool platform_software_webgl() {
    static const bool software = js_software_webgl() != 0;
    return software;
}
void platform_open_file_dialog() { js_open_file_dialog(); }
void platform_open_example(std::string_view path) { js_open_example(std::string(path).c_str()); }
void platform_download(std::string_view name, std::string_view mime, std::span<const uint8_t> bytes) {
    js_download(std::string(name).c_str(), std::string(mime).c_str(), bytes.data(), static_cast<int>(bytes.size()));
}
void platform_live_start() { js_live_start(); }
void platform_live_stop() { js_live_stop(); }
void platform_record_start() { js_record_start(); }
void platform_record_stop(std::string_view name) { js_record_stop(std::string(name).c_str()); }
double platform_now_ms() { return emscripten_get_now(); }
}  // namespace cnnlens::app

namespace {

// Globals: emscripten_set_main_loop unwinds main(), so nothing may live on its stack.
struct App {
    GLFWwindow* window = nullptr;
    AppState state;
    Session session;
    UiCache cache;
    int frames = 0;
    int paints = 0;          // frames that drew the canvas (others had nothing new to show)
    uint64_t painted = 0;    // the signature (paint_signature) of the last painted frame
    int painted_video = 0;        // the Live camera frame it showed (LiveWork::display_version)
    double painted_ms = 0;        // and when it was painted
    bool job_scheduled = false;  // a job is queued or running (sliced: maybe suspended)
    float dpr = 1.f;
    // A file on its way in: JS writes it into `bytes` piece by piece (frames go on meanwhile);
    // files are opened once every one of them is complete. width > 0: `bytes` are the RGBA
    // pixels of a photo the browser decoded (width x height), not a file.
    struct PendingFile { std::vector<uint8_t> bytes; std::string name; bool complete = true; int width = 0, height = 0; };
    std::vector<PendingFile> files;
    std::string faces_json, test_string, error_copy;
    std::vector<float> live_map;  // the test hook's copy of a Live map, and what it is
    std::string live_map_info;
    double photo_frame_ms = 0;  // draw_app in the frame that first showed the current photo
};
App* g = nullptr;

// The state lock (Session::state_mutex(), which also guards g): this thread holds it for a frame
// and for every call from JS; the job takes it only to start, to publish and to finish. In the
// single-threaded app it is never contended (a sliced job never holds it while asleep).
using StateLock = std::unique_lock<std::mutex>;
StateLock lock_state() { return StateLock(g->session.state_mutex()); }

void set_error(const std::string& message) {
    std::fprintf(stderr, "cnnlens: %s\n", message.c_str());
    g->state.error = message;
}

// Bytes the page can still allocate: what malloc holds free plus what memory may grow by
// (the threaded build's memory is fixed: emscripten_get_heap_max() is its size).
int64_t memory_available() {
    const struct mallinfo mi = mallinfo();
    const int64_t top = static_cast<int64_t>(reinterpret_cast<uintptr_t>(sbrk(0)));
    return static_cast<int64_t>(emscripten_get_heap_max()) - top + static_cast<int64_t>(mi.fordblks);
}

int open_threads();  // below, with the jobs

void open_pending_files() {
    if (g->files.empty()) return;
    for (const App::PendingFile& f : g->files)
        if (!f.complete) return;
    if (g->session.busy()) { g->session.cancel(); return; }  // a new photo wins; open once stopped
    // Photos, labeled .csv sets and model files, routed by extension (session_panels.h).
    std::vector<DroppedFile> files;
    for (App::PendingFile& f : g->files) files.push_back({std::move(f.bytes), std::move(f.name), f.width, f.height});
    g->files.clear();
    // The page waits for the files and no job runs meanwhile, so their loops (a large photo's
    // downscale, the detector) may take the job thread's core too.
    const int threads = kernel_threads();
    if (open_threads() > threads) set_kernel_threads(open_threads());
    Status s = open_files(g->session, g->session.panel_work(), files);
    if (kernel_threads() != threads) set_kernel_threads(threads);
    if (!s) set_error(s.message());  // core errors name the file
    else g->state.error.clear();
}

// --- Jobs -------------------------------------------------------------------------------------
// A job runs the pending explanation, else one step of the extra panels' work (a class map, a
// second method, a filter picture, a batch of the confusion set). frame() asks for one with
// schedule_pending_job() (holding the state lock) when there is work and none is in flight.
// A panel step gives way (is cancelled, and redone later) to an explanation, a photo or a model
// arriving; meanwhile the session counts as busy, so nothing changes under it.

// A Live frame waits for the job (Live on, not freezing).
bool live_waiting() {
    const LiveWork& l = g->session.live();
    return l.state == LiveState::kOn && l.pending && !l.processing && !l.freeze_requested;
}

// While Live is on, its frames are the only work: explanations and panel steps wait until it is
// turned off (their panels are not shown meanwhile).
bool work_waiting() {
    const Session& s = g->session;
    if (s.busy()) return false;
    if (s.live().state != LiveState::kOff) return live_waiting();
    return s.job().pending || panels_busy(s, g->session.panel_work());
}

// Runs one job; `progress` is called from inside it, without the state lock. Errors go to the
// banner.
void schedule_pending_job();

template <class Progress>
void run_job(const Progress& progress) {
    StateLock lock = lock_state();
    const bool live = live_waiting();
    const bool explanation = !live && g->session.job().pending;
    if (!explanation) g->session.set_background_work(true);
    lock.unlock();
    Status s;
    if (live) {
        s = process_live_frame(g->session);
    } else if (explanation) {
        s = g->session.run_pending([&](float) { progress(); return true; });
    } else {
        s = step_panels(g->session, g->session.panel_work(), [&](float) {
            progress();
            const StateLock l = lock_state();
            return !g->session.job().pending && g->files.empty();
        });
    }
    lock.lock();
    g->session.set_background_work(false);
    g->job_scheduled = false;
    // Live: a camera frame that came while this one was processed is taken at once, not at the
    // next page frame (frame() schedules jobs; waiting for it cost a third of the job's rate).
    if (live) schedule_pending_job();
    if (!s && s.code() != ErrorCode::kCancelled) {
        set_error(live ? "Live: " + s.message() : explanation ? g->state.method + ": " + s.message() : s.message());
        if (live) g->session.live().stop_requested = true;  // the next frame turns Live off (and the camera)
    }
}

#if defined(__EMSCRIPTEN_PTHREADS__)
// Threaded app: one job thread runs the jobs while this thread draws frames at full rate.
constexpr bool kSlicedJobs = false;
// Progress (and so Cancel) comes once per engine batch: 16 LIME samples take ~0.1 s, its default
// batch of 100 over 0.5 s. (Small batches cost nothing: the engine runs batch 1 fastest per image.)
constexpr int kJobBatch = 16;
std::condition_variable job_wanted;  // with the state lock: g->job_scheduled turned true

void* job_thread(void*) {
    for (;;) {
        {
            StateLock lock = lock_state();
            job_wanted.wait(lock, [] { return g->job_scheduled; });
        }
        run_job([] {});
    }
    return nullptr;
}

void schedule_pending_job() {
    if (g->job_scheduled || !work_waiting()) return;
    end_bench_threads();
    g->job_scheduled = true;
    job_wanted.notify_one();
}

// The kernels' thread pool (core/base/thread_pool.h). Jobs run the kernels on the job thread
// plus min(cores - 1, 4) - 1 workers: one core is left to this thread, which draws (and to
// software WebGL where there is no GPU), so frames keep their rate while a job runs.
int cores() { return static_cast<int>(std::thread::hardware_concurrency()); }  // navigator's
int kernel_thread_count() { return std::clamp(cores() - 1, 1, 4); }
// Pthreads the browser prewarms, min(cores, 4): kPoolSize in wasm/app/CMakeLists.txt is this in
// JS. Every thread must come from them: a worker started later would only run once this thread
// returned to the browser, and a kernel loop run from here (opening a photo, the forward
// benchmark) would wait for it forever. So the pool never grows past them: the job thread
// takes one, and a loop's caller plus its workers use at most all of them (the benchmark on
// this thread may use every core, with the job thread idle).
int prewarmed_threads() { return std::clamp(cores(), 1, 4); }

void start_kernel_threads() {
    limit_pool_threads(prewarmed_threads());
    set_kernel_threads(kernel_thread_count());
}

int open_threads() { return prewarmed_threads(); }

void start_jobs() {
    start_kernel_threads();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8 << 20);  // what the single-threaded app's jobs run on
    pthread_t thread;
    if (pthread_create(&thread, &attr, job_thread, nullptr) != 0) {
        set_error("the job thread could not be started: reload the page");
    } else {
        pthread_detach(thread);
    }
    pthread_attr_destroy(&attr);
}
#else
// Single-threaded app: the job runs in its own browser task (cnnlens_run_job, queued with
// setTimeout) and, from inside its progress callback, sleeps (Asyncify unwinds it to the
// browser) whenever it has run for kJobSliceMs, so the animation-frame loop keeps drawing the
// progress bar and Cancel works. The sleep must unwind to JS with no frame() on the stack,
// hence the task of its own.
constexpr bool kSlicedJobs = true;
constexpr double kJobSliceMs = 25;
// Progress comes once per engine batch; 8 forward passes (a few backward) take ~kJobSliceMs.
constexpr int kJobBatch = 8;

void schedule_pending_job() {
    if (g->job_scheduled || !work_waiting()) return;
    end_bench_threads();
    g->job_scheduled = true;
    js_start_job();
}

void start_jobs() {}
int open_threads() { return 1; }
#endif

void fit_canvas() {
    double css_w = 0, css_h = 0;
    emscripten_get_element_css_size("#canvas", &css_w, &css_h);
    const float dpr = static_cast<float>(js_device_pixel_ratio());
    const int w = static_cast<int>(std::lround(css_w * dpr)), h = static_cast<int>(std::lround(css_h * dpr));
    int cw = 0, ch = 0;
    glfwGetWindowSize(g->window, &cw, &ch);
    if (w > 0 && h > 0 && (w != cw || h != ch)) js_set_canvas_size(w, h);
}

void apply_key_events();  // below, with the key callback

// Freeze (live.h): once no Live frame is being processed, the last processed frame (the one
// whose boxes and overlays are on screen) is opened as the photo, as a dropped photo is, and
// Live is turned off.
void freeze_live() {
    LiveWork& l = g->session.live();
    if (!l.freeze_requested || l.processing || g->session.busy()) return;
    l.freeze_requested = false;
    if (l.result.frame.empty()) {
        set_error("Freeze: no camera frame has been processed yet");
        return;
    }
    Image frame = l.result.frame;  // a copy: the Live result stays for the test hook
    const std::string name = "live-frame-" + std::to_string(l.result.frame_id) + ".png";
    set_live(g->state, g->session, false);
    if (Status s = g->session.open_pixels(std::move(frame), name); !s) set_error(s.message());
    else g->state.error.clear();
}

// What a frame would paint: its draw lists (vertices, indices, commands with their textures and
// clip rectangles), the canvas size and the count of texture uploads (a texture's pixels change
// with no change to the lists). Equal signatures paint equal pictures, up to hash collisions
// (64-bit FNV-1a over 8-byte words).
constexpr double kLiveRepaintMs = 100;

uint64_t paint_signature(const ImDrawData* d, int w, int h) {
    uint64_t s = 1469598103934665603ull;
    auto mix = [&s](uint64_t v) { s = (s ^ v) * 1099511628211ull; };
    auto bytes = [&](const void* p, size_t n) {
        const auto* b = static_cast<const unsigned char*>(p);
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            std::memcpy(&v, b + i, 8);
            mix(v);
        }
        for (; i < n; ++i) mix(b[i]);
    };
    mix(static_cast<uint64_t>(w) << 32 | static_cast<uint32_t>(h));
    mix(static_cast<uint64_t>(texture_uploads()));
    mix(static_cast<uint64_t>(d->CmdListsCount));
    for (int i = 0; i < d->CmdListsCount; ++i) {
        const ImDrawList* l = d->CmdLists[i];
        bytes(l->VtxBuffer.Data, static_cast<size_t>(l->VtxBuffer.Size) * sizeof(ImDrawVert));
        bytes(l->IdxBuffer.Data, static_cast<size_t>(l->IdxBuffer.Size) * sizeof(ImDrawIdx));
        bytes(l->CmdBuffer.Data, static_cast<size_t>(l->CmdBuffer.Size) * sizeof(ImDrawCmd));
    }
    return s;
}

void frame() {
    fit_canvas();
    StateLock lock = lock_state();
    const int photo = g->session.photo_version();
    open_pending_files();
    if (Status s = g->session.apply_wanted_align(); !s) set_error(s.message());
    freeze_live();
    glfwPollEvents();
    apply_key_events();
    ImGui_ImplOpenGL3_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
    const double t0 = emscripten_get_now();
    draw_app(g->state, g->session, g->cache);
    if (g->session.photo_version() != photo) g->photo_frame_ms = emscripten_get_now() - t0;  // with the photo's texture upload
    if (g->session.live().state == LiveState::kOn) smooth_ms(g->session.live().stats.draw, emscripten_get_now() - t0);
    ++g->frames;
    schedule_pending_job();
    lock.unlock();  // the draw lists hold what is drawn; a job may publish while they render
    ImGui::Render();
    int w = 0, h = 0;
    glfwGetFramebufferSize(g->window, &w, &h);
    // A frame whose picture is the last one's is not painted: the canvas keeps it, and the
    // page's one spare core (software WebGL rasterizes the whole canvas on it) goes to frames
    // that show something new, such as the camera's.
    const uint64_t signature = paint_signature(ImGui::GetDrawData(), w, h);
    js_set_cursor(ImGui::GetMouseCursor());
    if (signature == g->painted && g->paints > 0) return;
    // During Live, the camera paces the paints: a frame paints when it shows a new camera frame;
    // other changes (a new overlay, the stats' text, the bars easing toward new probabilities)
    // show with the next one, or after kLiveRepaintMs at most.
    const double now = emscripten_get_now();
    const int video = g->session.live().display_version;
    if (g->session.live().state == LiveState::kOn && video == g->painted_video &&
        now - g->painted_ms < kLiveRepaintMs)
        return;
    g->painted = signature;
    g->painted_video = video;
    g->painted_ms = now;
    ++g->paints;
    glViewport(0, 0, w, h);
    // The page's window has no background of its own: a full-canvas blended rectangle is a third
    // of a Live frame's cost in software WebGL. The clear colour is what it showed, the style's
    // window background over the canvas colour.
    const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
    const auto over = [&bg](float under, float c) { return bg.w * c + (1.f - bg.w) * under; };
    glClearColor(over(0.08f, bg.x), over(0.08f, bg.y), over(0.1f, bg.z), 1.f);
    glClear(GL_COLOR_BUFFER_BIT);
    ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
}

// In the single-threaded app, frames are capped at 1000 / kBusyFrameMs per second while a job
// runs: the job and the frames share one thread, and a frame costs far more than 1 ms under
// software WebGL. The threaded app draws every animation frame.
constexpr double kBusyFrameMs = 50;

// Esc cancels the running job as soon as the key goes down. Dear ImGui 1.80 samples key state
// once per frame, and while a job runs frames are 50 ms apart: a quick tap (down and up between
// two frames) would be missed there. Not consumed, so the GLFW layer still sees the key.
EM_BOOL on_keydown(int, const EmscriptenKeyboardEvent* e, void*) {
    if (std::strcmp(e->key, "Escape") == 0 && js_keys_are_ours()) {
        const StateLock lock = lock_state();
        g->session.cancel();
    }
    return EM_FALSE;
}

// Dear ImGui 1.80 reads key state once per frame, so a key must be seen down in one frame and up
// in a later one for each press to count: a quick tap (down and up between two frames), a second
// tap before a frame has seen the first one's release, or any shortcut while a job slows frames
// to 20 per second would otherwise be lost. Key events wait in a queue, and each frame applies
// them in order up to the first one that would change a key a second time.
struct KeyEvent { int key, scancode, action, mods; };
std::deque<KeyEvent> key_events;

void on_key(GLFWwindow*, int key, int scancode, int action, int mods) {
    key_events.push_back({key, scancode, action, mods});
}

void apply_key_events() {
    std::vector<int> changed;
    while (!key_events.empty()) {
        const KeyEvent e = key_events.front();
        if (e.action != GLFW_REPEAT) {
            if (std::find(changed.begin(), changed.end(), e.key) != changed.end()) break;
            changed.push_back(e.key);
        }
        key_events.pop_front();
        ImGui_ImplGlfw_KeyCallback(g->window, e.key, e.scancode, e.action, e.mods);
    }
}

EM_BOOL animation_frame(double now, void*) {
    static double last = 0;
    if (kSlicedJobs && now - last < kBusyFrameMs) {
        const StateLock lock = lock_state();
        if (g->session.busy()) return EM_TRUE;
    }
    last = now;
    frame();
    return EM_TRUE;
}


}  // namespace

extern "C" {

// The file bridge: JS asks for a buffer of the file's size (cnnlens_file_buffer), writes the
// file into it as it reads it, and marks it complete (cnnlens_file_complete); the next frame
// opens the files once all are complete. A file the page's memory cannot hold is refused here,
// before anything is allocated (0 is returned and the error banner names the sizes).
EMSCRIPTEN_KEEPALIVE uint8_t* cnnlens_file_buffer(double size, const char* name) {
    const StateLock lock = lock_state();
    const int64_t n = static_cast<int64_t>(size), available = memory_available();
    // Headroom: a file is decoded into something at least as large (pixels, weights).
    Status s = check_memory(name, 2 * n, "the file, " + megabytes(n) + ", and what it is read into", available);
    if (s && n > static_cast<int64_t>(INT32_MAX)) s = out_of_range(std::string(name) + " is larger than 2 GB");
    if (!s) {
        set_error(s.message());
        return nullptr;
    }
    try {
        // The buffer's address names the file to JS (nullptr means refused), so an empty file
        // still gets one: reserve(1) allocates, the size stays 0 and the file reports "empty".
        std::vector<uint8_t> bytes;
        bytes.reserve(static_cast<size_t>(std::max<int64_t>(n, 1)));
        bytes.resize(static_cast<size_t>(n));
        g->files.push_back({std::move(bytes), name, false});
    } catch (const std::bad_alloc&) {
        set_error(std::string(name) + ": the page could not allocate " + megabytes(n) + " for it");
        return nullptr;
    }
    return g->files.back().bytes.data();
}
// Photos the browser decoded (web/loader.js) arrive as RGBA pixels: JS asks for a buffer of
// width x height x 4 bytes once the browser knows the size, before it reads the pixels out, so
// the photo size limits (check_photo_size) and the page's memory are checked before anything is
// allocated, here or in JS; refused, 0 is returned and the banner says why. Then as for files.
EMSCRIPTEN_KEEPALIVE uint8_t* cnnlens_pixels_buffer(int width, int height, const char* name) {
    const StateLock lock = lock_state();
    Status s = check_photo_size(name, width, height);
    const int64_t n = int64_t{width} * height * 4;
    // Beside the pixels: the preview, the detector's input and the face crops, each at most
    // kMaxDisplaySide (or kMaxCropSide) a side, with their float copies.
    constexpr int64_t kWork = int64_t{160} << 20;
    if (s && n + kWork > memory_available())
        s = out_of_range("image '" + std::string(name) + "': its " + std::to_string(width) + "x" + std::to_string(height) + " pixels need " +
                         megabytes(n + kWork) + " (the pixels and the work on them) but the page can get only " +
                         megabytes(memory_available()) + " more memory; the current photo stays");
    if (!s) {
        set_error(s.message());
        return nullptr;
    }
    try {
        g->files.push_back({std::vector<uint8_t>(static_cast<size_t>(n)), name, false, width, height});
    } catch (const std::bad_alloc&) {
        set_error("image '" + std::string(name) + "': the page could not allocate " + megabytes(n) + " for its pixels");
        return nullptr;
    }
    return g->files.back().bytes.data();
}
// Marks the file whose buffer is `data` complete, or (abandon = 1) drops it.
EMSCRIPTEN_KEEPALIVE void cnnlens_file_complete(uint8_t* data, int abandon) {
    const StateLock lock = lock_state();
    for (size_t i = 0; i < g->files.size(); ++i) {
        if (g->files[i].bytes.data() != data) continue;
        if (abandon) g->files.erase(g->files.begin() + static_cast<std::ptrdiff_t>(i));
        else g->files[i].complete = true;
        return;
    }
}
// 1 while dropped files wait to be opened (being read, or opened in the next frame).
EMSCRIPTEN_KEEPALIVE int cnnlens_files_waiting() {
    const StateLock lock = lock_state();
    return g->files.empty() ? 0 : 1;
}
// 1 when a dropped file of this name is opened as a photo (file_kind: by its extension).
EMSCRIPTEN_KEEPALIVE int cnnlens_file_is_photo(const char* name) { return file_kind(name) == FileKind::kPhoto ? 1 : 0; }
// Shows `message` in the error banner (a photo the browser could not decode); nothing else changes.
EMSCRIPTEN_KEEPALIVE void cnnlens_report_error(const char* message) {
    const StateLock lock = lock_state();
    set_error(message);
}
// Bytes the page can still allocate (for the test hook and the loader's messages).
EMSCRIPTEN_KEEPALIVE double cnnlens_memory_available() {
    const StateLock lock = lock_state();
    return static_cast<double>(memory_available());
}

#if !defined(__EMSCRIPTEN_PTHREADS__)
// The single-threaded app's job task (see schedule_pending_job), run in slices.
EMSCRIPTEN_KEEPALIVE void cnnlens_run_job() {
    double slice_start = emscripten_get_now();
    run_job([&] {
        if (emscripten_get_now() - slice_start >= kJobSliceMs) {
            emscripten_sleep(0);
            slice_start = emscripten_get_now();
        }
    });
}
#endif

// --- Test hook (web/loader.js wraps these as window.cnnlensTest) ------------------------------
// Each call holds the state lock, as a frame does. Strings returned point into buffers only
// this thread writes (g->test_string, g->faces_json, g->error_copy).

EMSCRIPTEN_KEEPALIVE int cnnlens_test_frames() { return g ? g->frames : 0; }
// Frames that painted the canvas (a frame with nothing new to show keeps the last picture).
EMSCRIPTEN_KEEPALIVE int cnnlens_test_paints() { return g ? g->paints : 0; }
EMSCRIPTEN_KEEPALIVE int cnnlens_test_software_webgl() { return platform_software_webgl() ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int cnnlens_test_ready() {
    if (!g) return 0;
    const StateLock lock = lock_state();
    return g->session.ready() && g->frames > 1;
}
// 1 in the threaded app (jobs on a pthread), 0 in the single-threaded one (Asyncify slices).
EMSCRIPTEN_KEEPALIVE int cnnlens_test_threads() { return kSlicedJobs ? 0 : 1; }
// Threads the kernels split their loops over (the job thread included; 1 when sliced).
EMSCRIPTEN_KEEPALIVE int cnnlens_test_kernel_threads() { return kernel_threads(); }
// The forward-pass benchmark (bench_hook.h), on this thread; answers JSON.
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_bench_forward(int batch, int runs, int threads,
                                                            int profile) {
    const StateLock lock = lock_state();
    g->test_string = bench_forward_json(g->session, batch, runs, threads, profile != 0);
    return g->test_string.c_str();
}
// 1 while a photo is waiting to be opened, an explanation is pending or running, or a tab asked
// for is not drawn yet.
EMSCRIPTEN_KEEPALIVE int cnnlens_test_busy() {
    const StateLock lock = lock_state();
    return !g->files.empty() || !g->session.panel_work().focus.empty() || g->session.job().pending || g->session.job().running || g->job_scheduled ||
           (g->session.explanation() && g->cache.shown.version != g->session.explanation_version());
}
EMSCRIPTEN_KEEPALIVE int cnnlens_test_photo_version() {
    const StateLock lock = lock_state();
    return g->session.photo_version();
}
// The photo shown: {"name":s,"width":w,"height":h,"previewWidth":w,"previewHeight":h} (the
// preview: Session::photo_shown(), the copy drawn, and searched when the photo is large).
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_photo() {
    const StateLock lock = lock_state();
    const Session& s = g->session;
    char buf[128];
    std::snprintf(buf, sizeof buf, ",\"width\":%d,\"height\":%d,\"previewWidth\":%d,\"previewHeight\":%d}", s.photo().width,
                  s.photo().height, s.photo_shown().width, s.photo_shown().height);
    g->test_string = "{\"name\":" + json_quote(s.photo_name()) + buf;
    return g->test_string.c_str();
}
// What the last photo's opening took, ms per stage: {"decode":m,"rgb":m,"preview":m,...,
// "frame":m} (frame: drawing the interface in the frame that first showed it, the photo's
// texture upload included).
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_photo_timings() {
    const StateLock lock = lock_state();
    std::string& s = g->test_string;
    s = "{";
    char buf[32];
    for (const auto& [stage, ms] : g->session.photo_timings()) {
        std::snprintf(buf, sizeof buf, "%.3f", ms);
        s += json_quote(stage) + ":" + buf + ",";
    }
    std::snprintf(buf, sizeof buf, "%.3f", g->photo_frame_ms);
    s += "\"frame\":" + std::string(buf) + "}";
    return s.c_str();
}
// The explanation job: {"pending":b,"running":b,"progress":f,"partial":b,"version":n}.
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_job() {
    const StateLock lock = lock_state();
    const JobStatus& j = g->session.job();
    char buf[160];
    std::snprintf(buf, sizeof buf, "{\"pending\":%s,\"running\":%s,\"progress\":%.4f,\"partial\":%s,\"version\":%d}",
                  j.pending ? "true" : "false", j.running ? "true" : "false", j.progress,
                  g->session.explanation_partial() ? "true" : "false", g->session.explanation_version());
    g->test_string = buf;
    return g->test_string.c_str();
}
// Cancels the running job, as Esc and the Cancel button do.
EMSCRIPTEN_KEEPALIVE void cnnlens_test_cancel() {
    const StateLock lock = lock_state();
    g->session.cancel();
}
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_error() {
    const StateLock lock = lock_state();
    g->error_copy = g->state.error;  // the job thread may set a new error once the lock is gone
    return g->error_copy.c_str();
}

// [{"box":[x,y,w,h],"score":s,"angle":degrees,"probs":[...7],"top":"happy","wholePhoto":false}, ...]
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_faces() {
    const StateLock lock = lock_state();
    std::string& s = g->faces_json;
    s = "[";
    char buf[64];
    for (const Face& f : g->session.faces()) {
        if (s.size() > 1) s += ',';
        std::snprintf(buf, sizeof buf, "{\"box\":[%.3f,%.3f,%.3f,%.3f],", f.box.x, f.box.y, f.box.width, f.box.height);
        s += buf;
        std::snprintf(buf, sizeof buf, "\"score\":%.6g,\"angle\":%.4g,\"probs\":[", f.box.score, f.frame.angle_degrees());
        s += buf;
        for (size_t i = 0; i < f.probs.size(); ++i) {
            std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", f.probs[i]);
            s += buf;
        }
        s += "],\"top\":";
        s += json_quote(g->session.class_names()[static_cast<size_t>(f.top)]);
        s += f.whole_photo ? ",\"wholePhoto\":true}" : ",\"wholePhoto\":false}";
    }
    s += "]";
    return s.c_str();
}

// The map last shown (g->cache.shown is only written by frames, on this thread).
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_map_method() { return g->cache.shown.method.c_str(); }
EMSCRIPTEN_KEEPALIVE int cnnlens_test_map_width() { return g->cache.shown.width; }
EMSCRIPTEN_KEEPALIVE int cnnlens_test_map_height() { return g->cache.shown.height; }
EMSCRIPTEN_KEEPALIVE const float* cnnlens_test_map_values() { return g->cache.shown.values.data(); }

// Selects the method (default parameters, predicted class) and asks for a run, as the panel's
// Explain button does. Returns 0 for an unknown method.
EMSCRIPTEN_KEEPALIVE int cnnlens_test_explain(const char* method) {
    if (!find_method(method)) return 0;
    const StateLock lock = lock_state();
    g->state.method = method;
    g->state.params.erase(method);
    g->state.target_class = -1;
    g->state.contrast_class = -1;
    g->state.score = -1;
    g->state.seed = 1;
    g->state.run_requested = true;
    return 1;
}
// Sets one parameter of a method (after cnnlens_test_explain, before the next frame runs it).
// Returns 0 when the method or the parameter does not exist.
EMSCRIPTEN_KEEPALIVE int cnnlens_test_param(const char* method, const char* name, double value) {
    const ExplanationMethod* m = find_method(method);
    if (!m || !m->find_param(name)) return 0;
    const StateLock lock = lock_state();
    g->state.params[method].set(name, value);
    return 1;
}

// Sets the gradients' precision ("exact" or "float") as the Explain panel's radio buttons do.
// Returns 0 for another name.
EMSCRIPTEN_KEEPALIVE int cnnlens_test_precision(const char* name) {
    const std::optional<TapePrecision> p = parse_tape_precision(name);
    if (!p) return 0;
    const StateLock lock = lock_state();
    g->state.precision = *p;
    set_default_tape_precision(*p);
    return 1;
}

// The selected face's crop as PNG (so a test can run the native CLI on exactly that crop).
EMSCRIPTEN_KEEPALIVE int cnnlens_test_face_png_size() {
    const StateLock lock = lock_state();
    const Face* f = g->session.selected_face();
    if (!f) return 0;
    std::vector<uint8_t> png = encode_png(f->crop);
    g->test_string.assign(png.begin(), png.end());
    return static_cast<int>(g->test_string.size());
}
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_face_png_data() { return g->test_string.data(); }
// The photo as PNG (after Freeze, the frozen frame), read through cnnlens_test_face_png_data.
EMSCRIPTEN_KEEPALIVE int cnnlens_test_photo_png_size() {
    const StateLock lock = lock_state();
    if (g->session.photo().empty()) return 0;
    std::vector<uint8_t> png = encode_png(g->session.photo());
    g->test_string.assign(png.begin(), png.end());
    return static_cast<int>(g->test_string.size());
}

// --- Live mode: the page side (web/live.js) ---------------------------------------------------
// The camera answered Live's start: on with its video size, or refused (the message says why).
EMSCRIPTEN_KEEPALIVE void cnnlens_live_started(int width, int height) {
    const StateLock lock = lock_state();
    LiveWork& l = g->session.live();
    if (l.state != LiveState::kStarting) { js_live_stop(); return; }  // turned off while the camera started
    l.state = LiveState::kOn;
    l.video_width = width;
    l.video_height = height;
}
EMSCRIPTEN_KEEPALIVE void cnnlens_live_failed(const char* message) {
    const StateLock lock = lock_state();
    g->session.live().state = LiveState::kOff;
    set_error(message);
}
// The page released the camera itself (the tab was hidden): Live off, and the banner says why.
EMSCRIPTEN_KEEPALIVE void cnnlens_live_stopped(const char* message) {
    const StateLock lock = lock_state();
    if (g->session.live().state == LiveState::kOff) return;
    set_live(g->state, g->session, false);
    set_error(message);
}
// 1 when the page should read the new camera frame out: the view has drawn the last one
// (LiveWork::display_drawn). The frame goes to the view and to the job.
EMSCRIPTEN_KEEPALIVE int cnnlens_live_wants_frame() {
    const StateLock lock = lock_state();
    const LiveWork& l = g->session.live();
    return l.state == LiveState::kOn && !l.freeze_requested && l.display_drawn;
}
// A buffer for one RGBA frame of width x height; 0 (and the banner says why) for a size outside
// 1..kMaxLiveSide.
EMSCRIPTEN_KEEPALIVE uint8_t* cnnlens_live_frame_buffer(int width, int height) {
    const StateLock lock = lock_state();
    constexpr int kMaxLiveSide = 4096;
    if (width <= 0 || height <= 0 || width > kMaxLiveSide || height > kMaxLiveSide) {
        set_error("Live: a camera frame of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is outside 1.." +
                  std::to_string(kMaxLiveSide) + " a side");
        return nullptr;
    }
    Image& px = g->session.live().incoming.pixels;
    px.width = width;
    px.height = height;
    px.channels = 4;
    px.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 4);
    return px.pixels.data();
}
// The frame is written: it waits for the job. `time_ms` is when the page read it
// (performance.now()), `grab_ms` what reading it out took.
EMSCRIPTEN_KEEPALIVE void cnnlens_live_frame_ready(double time_ms, double grab_ms) {
    const StateLock lock = lock_state();
    LiveWork& l = g->session.live();
    if (l.state == LiveState::kOn && !l.incoming.pixels.empty()) l.frame_ready(time_ms, grab_ms);
    schedule_pending_job();  // now, not at the next page frame: a frame waits for the job
}

// --- Live mode: the test hook ---------------------------------------------------------------
// {"state":"off|starting|on","method":s,"recording":b,"rows":n,"frame":{id,time,detected,width,
// height,video:[w,h]},"faces":[{"id":n,"box":[x,y,w,h],"probs":[...],"raw":[...],"top":s}],
// "stats":{...LiveStats, ms and rates}}
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_live() {
    const StateLock lock = lock_state();
    const LiveWork& l = g->session.live();
    g->test_string = live_json(l, g->session.class_names());
    return g->test_string.c_str();
}
// Copies the map of face k of the last processed frame for the hook; returns its value count
// (0: no such face or no map).
EMSCRIPTEN_KEEPALIVE int cnnlens_test_live_map(int k) {
    const StateLock lock = lock_state();
    const LiveResult& r = g->session.live().result;
    if (k < 0 || k >= static_cast<int>(r.faces.size()) || !r.faces[static_cast<size_t>(k)].map) return 0;
    const LiveFace& f = r.faces[static_cast<size_t>(k)];
    const Explanation& e = *f.map;
    g->live_map.assign(e.map.data(), e.map.data() + e.map.size());
    char buf[160];
    std::snprintf(buf, sizeof buf, ",\"cls\":%s,\"width\":%d,\"height\":%d}", json_quote(g->session.class_names()[static_cast<size_t>(e.target.cls)]).c_str(),
                  e.width, e.height);
    g->live_map_info = "{\"method\":" + json_quote(e.method) + buf;
    return static_cast<int>(g->live_map.size());
}
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_live_map_info() { return g->live_map_info.c_str(); }
EMSCRIPTEN_KEEPALIVE const float* cnnlens_test_live_map_values() { return g->live_map.data(); }
// Face k's crop of the last processed frame as PNG, read through cnnlens_test_face_png_data.
EMSCRIPTEN_KEEPALIVE int cnnlens_test_live_crop_png_size(int k) {
    const StateLock lock = lock_state();
    const LiveResult& r = g->session.live().result;
    if (k < 0 || k >= static_cast<int>(r.faces.size())) return 0;
    std::vector<uint8_t> png = encode_png(r.faces[static_cast<size_t>(k)].crop);
    g->test_string.assign(png.begin(), png.end());
    return static_cast<int>(g->test_string.size());
}
// Picks Live's method (default parameters), as the Live view's method list does; 0 for a method
// Live does not offer (unknown, or not cheap enough: MethodCost::kJob).
EMSCRIPTEN_KEEPALIVE int cnnlens_test_live_method(const char* method) {
    const ExplanationMethod* m = find_method(method);
    if (!m || !m->live()) return 0;
    const StateLock lock = lock_state();
    g->state.live_method = method;
    g->state.params.erase(method);
    return 1;
}

// The extra panels' test commands (panels_hook.cpp); answers JSON.
EMSCRIPTEN_KEEPALIVE const char* cnnlens_test_panels(const char* command) {
    const StateLock lock = lock_state();
    g->test_string = panels_hook_command(g->state, g->session, g->cache, command);
    return g->test_string.c_str();
}

}  // extern "C"

int main() {
    g = new App();
    if (!glfwInit()) { std::fprintf(stderr, "cnnlens: glfwInit failed\n"); return 1; }
    glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
    // An opaque canvas with no depth or stencil buffer: Dear ImGui draws with neither, and each one
    // costs every painted frame (the browser clears them, and composites a canvas with alpha by
    // blending it; without a GPU, software WebGL does all of it on the page's cores).
    glfwWindowHint(GLFW_ALPHA_BITS, 0);
    glfwWindowHint(GLFW_DEPTH_BITS, 0);
    glfwWindowHint(GLFW_STENCIL_BITS, 0);
    g->window = glfwCreateWindow(1280, 800, "cnnlens", nullptr, nullptr);
    if (!g->window) { std::fprintf(stderr, "cnnlens: WebGL2 is not available\n"); return 1; }
    glfwMakeContextCurrent(g->window);
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    g->dpr = static_cast<float>(js_device_pixel_ratio());
    ImGui::StyleColorsDark();
    ImFontConfig font;
    font.SizePixels = std::round(13.f * g->dpr);
    io.Fonts->AddFontDefault(&font);
    ImGui::GetStyle().ScaleAllSizes(g->dpr);
    ImGui_ImplGlfw_InitForOpenGL(g->window, true);
    glfwSetKeyCallback(g->window, on_key);  // in place of the backend's, which on_key calls
    ImGui_ImplOpenGL3_Init("#version 300 es");

    g->session.set_job_batch(kJobBatch);
    g->session.panel_work().model.memory_available = memory_available;
    Status s = g->session.load_models(directory_source("/models/fer2013-mini-xception"), directory_source("/models/blazeface"));
    if (!s) set_error("loading the bundled models failed: " + s.message());
    start_jobs();
    // Not emscripten_set_main_loop: Asyncify pauses that loop while any sleep is in flight,
    // and a sleeping job must not stop the frames.
    emscripten_set_keydown_callback(EMSCRIPTEN_EVENT_TARGET_WINDOW, nullptr, EM_FALSE, on_keydown);
    emscripten_request_animation_frame_loop(animation_frame, nullptr);
    emscripten_exit_with_live_runtime();
    return 0;
}
// clang-format on
