// Translation between .tflite builtin options tables and the IR's option structs, one
// Parse/Build pair per op family, so that FlatBuffers details never reach the IR.
#ifndef QAUDIT_SRC_TFLITE_OP_OPTIONS_H_
#define QAUDIT_SRC_TFLITE_OP_OPTIONS_H_

#include <utility>

#include "qaudit/graph.h"
#include "qaudit/status.h"
#include "tflite_format_generated.h"

namespace qaudit::tflite_internal {

// Reads the options of `op` (whose kind is already known). A missing options table means
// the format's defaults; an options table of the wrong type is an error.
Result<OpOptions> ParseOptions(OpKind kind, const tfl::Operator& op);

// Returns the union type and table offset to store for `op`'s options.
std::pair<tfl::BuiltinOptions, flatbuffers::Offset<void>> BuildOptions(flatbuffers::FlatBufferBuilder& fbb,
                                                                        const Operator& op);

}  // namespace qaudit::tflite_internal

#endif  // QAUDIT_SRC_TFLITE_OP_OPTIONS_H_
