// Parsing .npy bytes already in memory: shared by the .npy reader and the .npz reader,
// whose entries are .npy files.
#ifndef QAUDIT_SRC_DATA_NPY_PARSE_H_
#define QAUDIT_SRC_DATA_NPY_PARSE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit {

// `what` names the bytes in messages (a path, or "archive.npz: entry x.npy").
Result<HostTensor> ParseNpy(const std::vector<uint8_t>& bytes, const std::string& what);

}  // namespace qaudit

#endif  // QAUDIT_SRC_DATA_NPY_PARSE_H_
