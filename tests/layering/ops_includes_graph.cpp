// Must not compile: a source of the ops layer reaching up to the graph layer. The test
// Layering.WrongWayIncludeFails builds it with the include rules of core/ops/ and passes only when
// the compiler reports core/graph/graph.h as not found (tests/CMakeLists.txt).
#include "core/graph/graph.h"
#include "core/ops/op.h"
