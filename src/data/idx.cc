#include <zlib.h>

#include <string>

#include "qaudit/data.h"

namespace qaudit {

Result<HostTensor> ReadIdx(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) return Status::NotFound(path + ": cannot open file");
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  int n;
  while ((n = gzread(f, chunk, sizeof(chunk))) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  const bool read_error = n < 0;
  gzclose(f);
  if (read_error) return Status::IOError(path + ": decompression failed");
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(path + ": not a valid IDX file: " + what); };
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) return bad("bad magic");
  if (bytes[2] != 0x08) return Status::Unsupported(path + ": IDX element type " + std::to_string(bytes[2]) + " (only unsigned byte)");
  const int rank = bytes[3];
  if (rank < 1 || rank > 4 || bytes.size() < 4 + 4 * static_cast<size_t>(rank)) return bad("rank " + std::to_string(rank));
  HostTensor t;
  t.dtype = DType::kUInt8;
  for (int d = 0; d < rank; ++d) {
    const uint8_t* p = &bytes[4 + 4 * d];
    const uint32_t dim = (static_cast<uint32_t>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    if (dim > INT32_MAX) return bad("dimension " + std::to_string(dim));
    t.shape.push_back(static_cast<int32_t>(dim));
  }
  const size_t header = 4 + 4 * static_cast<size_t>(rank);
  const int64_t count = NumElements(t.shape);
  if (count < 0 || static_cast<uint64_t>(count) != bytes.size() - header) {
    return bad("shape " + ShapeToString(t.shape) + " needs " + std::to_string(count) + " bytes, the file has " +
               std::to_string(bytes.size() - header));
  }
  t.bytes.assign(bytes.begin() + header, bytes.end());
  return t;
}

}  // namespace qaudit
