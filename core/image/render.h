// Turning maps into pictures for the CLI report and the browser app, on the CPU: one include
// for colormap.h, normalize.h (normalisation and masks), overlay.h, draw.h (text, colour bars,
// grids) and encode.h (PNG and .npy files).
#pragma once
#include "core/image/colormap.h"
#include "core/image/draw.h"
#include "core/image/encode.h"
#include "core/image/normalize.h"
#include "core/image/overlay.h"
