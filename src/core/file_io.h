// Whole-file reads and crash-safe writes, shared by every module that touches files.
#ifndef QAUDIT_SRC_CORE_FILE_IO_H_
#define QAUDIT_SRC_CORE_FILE_IO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qaudit/status.h"

namespace qaudit {

// NotFound when the file cannot be opened, IOError when reading fails.
Result<std::vector<uint8_t>> ReadWholeFile(const std::string& path);

// Writes `parts` one after another to `path` through `path`.tmp and a rename, so that
// `path` is either the old file or the complete new one, never half-written.
Status WriteFileAtomically(const std::string& path, const std::vector<std::pair<const void*, size_t>>& parts);

}  // namespace qaudit

#endif  // QAUDIT_SRC_CORE_FILE_IO_H_
