// Reading and writing .tflite files.
//
// ReadTflite* verify the FlatBuffers structure, then the model's meaning (VerifyGraph),
// and only then return a Graph. Any problem is an error naming the file and the op or
// tensor at fault; no input, however corrupt, crashes the reader or makes it allocate
// much more than the file's size.
#ifndef QAUDIT_TFLITE_H_
#define QAUDIT_TFLITE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qaudit/graph.h"
#include "qaudit/status.h"

namespace qaudit {

// `label` names the model in error messages (usually its path).
Result<Graph> ReadTflite(const uint8_t* data, size_t size, const std::string& label);
Result<Graph> ReadTfliteFile(const std::string& path);

// The name TFLite gives a BuiltinOperator number ("CONV_2D", "UNIDIRECTIONAL_SEQUENCE_LSTM"),
// including operators qaudit does not support; "BUILTIN_<n>" for numbers it does not know.
std::string TfliteBuiltinName(int32_t code);

Result<std::vector<uint8_t>> WriteTflite(const Graph& graph);
// Writes through a temporary file and a rename, so `path` is never left half-written.
Status WriteTfliteFile(const Graph& graph, const std::string& path);

}  // namespace qaudit

#endif  // QAUDIT_TFLITE_H_
