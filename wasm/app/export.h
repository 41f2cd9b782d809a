// Export: what the app writes for download — the current view (face, overlay, colour bar) or
// any single map as PNG, and a JSON of every parameter, the seed and a summary of the result.
// Pure functions of (AppState, Session): no ImGui, no GL, so they are unit-tested natively.
// The panels draw the overlay with view_overlay() too, so a saved view is what was on screen.
#pragma once
#include <string>
#include <string_view>

#include "core/image/render.h"
#include "wasm/app/app_state.h"
#include "wasm/app/session.h"

namespace cnnlens::app {

// The colormap the view uses for `e`: the chosen one, or auto (RdBu_r for signed maps, inferno
// otherwise). Maps are normalised as their method says (Explanation::norm).
Colormap view_colormap(const AppState& state, const Explanation& e);

// The overlay as shown: the face's input picture upscaled `scale` times, the normalised map
// coloured on top at state.opacity, then the mask (mask_percent > 0) and superpixel edges.
Image view_overlay(const AppState& state, const Face& face, const Explanation& e, int scale);

// The map as the photo panel lays it over the photo, through the face's frame: the normalised
// map coloured at the map's size, alpha state.opacity (0 where the mask hides the map).
Image view_map_rgba(const AppState& state, const Explanation& e);
// The photo (its preview, at most Session::kMaxDisplaySide pixels a side) with the selected
// face's whole map drawn back through its frame (turned with an aligned crop) at state.opacity;
// empty when there is no explanation.
Image view_photo_overlay(const AppState& state, const Session& session);

// The whole view in one RGB picture: a title line ("LIME for happy - astronaut.jpg"), then the
// face, its overlay and a colour bar with values, then, once the Trust section has them, the
// deletion and insertion AUCs with their random-order AUCs. Empty when there is no explanation.
Image view_picture(const AppState& state, const Session& session, int scale = 4);

// One map on its own through `cmap` after `norm`, upscaled `scale` times, with a colour bar
// (for "any map": the explanation's map or one of its extras).
Image map_picture(const Tensor& map, MapNorm norm, Colormap cmap, int scale = 4);

// The trust scores (session_panels.h) when they are for the explanation shown, else null.
struct TrustRun;
const TrustRun* shown_trust(const Session& session);

// JSON (one object, pretty-printed) with the photo (name, size), the selected face (box, the
// region the classifier saw: centre, size, angle in degrees and whether crops are aligned;
// probabilities, top class), the request (method, every parameter, seed, target), the result
// (size, signed, stats, layer, LIME R^2 and segment count, partial or not), the display
// settings, the kernel set and the trust scores computed so far ("trust": each score's name,
// value, title and what a good value looks like; the deletion and insertion curves with their
// random-order curves; the randomization check's steps; null when none is for this
// explanation; undefined values are null). Also usable without an explanation (then "result" is
// null).
std::string view_json(const AppState& state, const Session& session);

// A download name: the photo's stem, the method and `suffix` ("astronaut_lime.png"); only
// [A-Za-z0-9._-] survive.
std::string export_name(const Session& session, std::string_view method, std::string_view suffix);

}  // namespace cnnlens::app
