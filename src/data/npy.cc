#include <cstring>
#include <string>

#include "core/file_io.h"
#include "data/npy_parse.h"
#include "qaudit/data.h"

namespace qaudit {
namespace {

struct NpyType {
  const char* descr;
  DType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {"<f4", DType::kFloat32}, {"<f2", DType::kFloat16}, {"|i1", DType::kInt8},  {"|u1", DType::kUInt8},
    {"<i2", DType::kInt16},   {"<i4", DType::kInt32},   {"<i8", DType::kInt64}, {"|b1", DType::kBool},
};

// Finds `'key': ` in the header dict and returns the position after it, or npos.
size_t FindKey(const std::string& header, const std::string& key) {
  for (const char* quote : {"'", "\""}) {
    const size_t p = header.find(quote + key + quote);
    if (p != std::string::npos) {
      const size_t colon = header.find(':', p);
      return colon == std::string::npos ? colon : colon + 1;
    }
  }
  return std::string::npos;
}

}  // namespace

Result<HostTensor> ParseNpy(const std::vector<uint8_t>& bytes, const std::string& path) {
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(path + ": not a valid .npy file: " + what); };
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) return bad("missing \\x93NUMPY magic");
  const int major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = bytes[8] | (bytes[9] << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated header");
    header_len = bytes[8] | (bytes[9] << 8) | (bytes[10] << 16) | (static_cast<size_t>(bytes[11]) << 24);
    header_start = 12;
  } else {
    return bad("format version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) return bad("truncated header");
  const std::string header(bytes.begin() + header_start, bytes.begin() + header_start + header_len);

  size_t p = FindKey(header, "descr");
  if (p == std::string::npos) return bad("no 'descr'");
  const size_t q1 = header.find_first_of("'\"", p);
  const size_t q2 = q1 == std::string::npos ? q1 : header.find(header[q1], q1 + 1);
  if (q2 == std::string::npos) return bad("malformed 'descr'");
  std::string descr = header.substr(q1 + 1, q2 - q1 - 1);
  if (descr.size() == 3 && descr[0] == '=') descr[0] = '<';
  if (descr == "<i1" || descr == "<u1" || descr == "<b1") descr[0] = '|';
  HostTensor t;
  bool known = false;
  for (const NpyType& nt : kNpyTypes) {
    if (descr == nt.descr) t.dtype = nt.dtype, known = true;
  }
  if (!known) {
    return Status::Unsupported(path + ": .npy dtype '" + descr +
                               "' is not supported (float32, float16, int8, uint8, int16, int32, int64, bool; little-endian)");
  }
  p = FindKey(header, "fortran_order");
  if (p == std::string::npos) return bad("no 'fortran_order'");
  if (header.compare(header.find_first_not_of(' ', p), 4, "True") == 0) {
    return Status::Unsupported(path + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  }
  p = FindKey(header, "shape");
  if (p == std::string::npos) return bad("no 'shape'");
  const size_t open = header.find('(', p), close = header.find(')', p);
  if (open == std::string::npos || close == std::string::npos || close < open) return bad("malformed 'shape'");
  const std::string dims = header.substr(open + 1, close - open - 1);
  size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    size_t used = 0;
    long long d = 0;
    try {
      d = std::stoll(dims.substr(i), &used);
    } catch (...) {
      return bad("malformed 'shape' (" + dims + ")");
    }
    if (d < 0 || d > INT32_MAX) return bad("dimension " + std::to_string(d) + " out of range");
    t.shape.push_back(static_cast<int32_t>(d));
    i += used;
  }
  const int64_t n = NumElements(t.shape);
  const size_t data_start = header_start + header_len;
  if (n < 0 || static_cast<uint64_t>(n) * DTypeSize(t.dtype) != bytes.size() - data_start) {
    return bad("shape " + ShapeToString(t.shape) + " of " + DTypeName(t.dtype) + " needs " +
               std::to_string(n * static_cast<int64_t>(DTypeSize(t.dtype))) + " bytes of data, the file has " +
               std::to_string(bytes.size() - data_start));
  }
  t.bytes.assign(bytes.begin() + data_start, bytes.end());
  return t;
}

Result<HostTensor> ReadNpy(const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadWholeFile(path));
  return ParseNpy(bytes, path);
}

Status WriteNpy(const std::string& path, const HostTensor& t) {
  const char* descr = nullptr;
  for (const NpyType& nt : kNpyTypes) {
    if (nt.dtype == t.dtype) descr = nt.descr;
  }
  if (!descr) return Status::Unsupported(path + ": cannot write " + DTypeName(t.dtype) + " as .npy");
  std::string shape = "(";
  for (int32_t d : t.shape) shape += std::to_string(d) + ", ";
  if (t.shape.size() > 1) shape.resize(shape.size() - 2);
  if (t.shape.size() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  const uint8_t preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<uint8_t>(header.size() & 0xff),
                                static_cast<uint8_t>(header.size() >> 8)};
  return WriteFileAtomically(path, {{preamble, sizeof(preamble)}, {header.data(), header.size()},
                                    {t.bytes.data(), t.bytes.size()}});
}

}  // namespace qaudit
