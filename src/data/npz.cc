// .npz: a zip archive of .npy files. Read through the central directory (the local
// headers that np.savez writes carry zip64 placeholders instead of sizes).
#include <zlib.h>

#include <cstring>

#include "core/file_io.h"
#include "data/npy_parse.h"
#include "qaudit/data.h"

namespace qaudit {
namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndLocator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint16_t kZip64ExtraTag = 0x0001;
constexpr uint32_t kZip64Placeholder = 0xffffffff;
constexpr uint16_t kStored = 0, kDeflated = 8;

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t Le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint64_t Le64(const uint8_t* p) { return Le32(p) | (static_cast<uint64_t>(Le32(p + 4)) << 32); }

struct Entry {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0, size = 0, local_header_offset = 0;
};

// Replaces the 32-bit fields that hold the zip64 placeholder with the 64-bit values of
// the entry's zip64 extra field, which lists only those, in this order.
bool ApplyZip64Extra(const uint8_t* extra, size_t length, Entry& e) {
  for (size_t p = 0; p + 4 <= length;) {
    const uint16_t tag = Le16(extra + p), size = Le16(extra + p + 2);
    if (p + 4 + size > length) return false;
    if (tag == kZip64ExtraTag) {
      const uint8_t* field = extra + p + 4;
      const uint8_t* end = field + size;
      for (uint64_t* value : {&e.size, &e.compressed_size, &e.local_header_offset}) {
        if (*value != kZip64Placeholder) continue;
        if (field + 8 > end) return false;
        *value = Le64(field);
        field += 8;
      }
    }
    p += 4 + size;
  }
  return true;
}

Result<std::vector<uint8_t>> Inflate(const uint8_t* data, uint64_t compressed_size, uint64_t size, const std::string& what) {
  if (compressed_size > UINT32_MAX || size > UINT32_MAX) return Status::Unsupported(what + ": compressed entries over 4 GiB");
  std::vector<uint8_t> out(size);
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return Status::Internal(what + ": zlib inflateInit2 failed");
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(compressed_size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(size);
  const int rc = inflate(&z, Z_FINISH);
  const std::string detail = z.msg ? z.msg : "not the size the directory says";
  const uint64_t produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != size) return Status::InvalidArgument(what + ": corrupt deflate data (" + detail + ")");
  return out;
}

}  // namespace

Result<std::vector<NamedArray>> ReadNpz(const std::string& path) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> b, ReadWholeFile(path));
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(path + ": not a valid .npz (zip) file: " + what); };

  // The end record is the last 22 bytes plus a comment of up to 65535 bytes.
  if (b.size() < 22) return bad("too short");
  size_t eocd = std::string::npos;
  for (size_t p = b.size() - 22 + 1; p-- > 0 && b.size() - p <= 22 + 0xffff;) {
    if (Le32(&b[p]) == kEndOfCentralDirectory) {
      eocd = p;
      break;
    }
  }
  if (eocd == std::string::npos) return bad("no end-of-central-directory record");
  uint64_t entry_count = Le16(&b[eocd + 10]);
  uint64_t directory_offset = Le32(&b[eocd + 16]);
  if (eocd >= 20 && Le32(&b[eocd - 20]) == kZip64EndLocator) {
    const uint64_t zip64_end = Le64(&b[eocd - 20 + 8]);
    if (zip64_end > b.size() - 56 || Le32(&b[zip64_end]) != kZip64End) return bad("bad zip64 end record");
    entry_count = Le64(&b[zip64_end + 32]);
    directory_offset = Le64(&b[zip64_end + 48]);
  }

  std::vector<NamedArray> arrays;
  uint64_t p = directory_offset;
  for (uint64_t i = 0; i < entry_count; ++i) {
    if (p > b.size() || b.size() - p < 46 || Le32(&b[p]) != kCentralHeader) return bad("bad central directory entry " + std::to_string(i));
    Entry e;
    const uint16_t flags = Le16(&b[p + 8]);
    e.method = Le16(&b[p + 10]);
    e.crc = Le32(&b[p + 16]);
    e.compressed_size = Le32(&b[p + 20]);
    e.size = Le32(&b[p + 24]);
    const uint16_t name_length = Le16(&b[p + 28]), extra_length = Le16(&b[p + 30]), comment_length = Le16(&b[p + 32]);
    e.local_header_offset = Le32(&b[p + 42]);
    if (b.size() - p - 46 < static_cast<uint64_t>(name_length) + extra_length + comment_length) return bad("truncated central directory");
    e.name.assign(reinterpret_cast<const char*>(&b[p + 46]), name_length);
    if (!ApplyZip64Extra(&b[p + 46 + name_length], extra_length, e)) return bad("bad zip64 field of '" + e.name + "'");
    p += 46 + name_length + extra_length + comment_length;

    const std::string what = path + ": entry '" + e.name + "'";
    if (flags & 1) return Status::Unsupported(what + " is encrypted");
    if (e.method != kStored && e.method != kDeflated) {
      return Status::Unsupported(what + " uses zip compression method " + std::to_string(e.method) + " (only stored and deflated)");
    }
    const uint64_t lh = e.local_header_offset;
    if (lh > b.size() || b.size() - lh < 30 || Le32(&b[lh]) != kLocalHeader) return bad("bad local header of '" + e.name + "'");
    const uint64_t data_start = lh + 30 + Le16(&b[lh + 26]) + Le16(&b[lh + 28]);
    if (data_start > b.size() || b.size() - data_start < e.compressed_size) return bad("'" + e.name + "' is truncated");
    std::vector<uint8_t> content;
    if (e.method == kStored) {
      if (e.compressed_size != e.size) return bad("stored entry '" + e.name + "' has two sizes");
      content.assign(b.begin() + data_start, b.begin() + data_start + e.size);
    } else {
      QAUDIT_ASSIGN_OR_RETURN(content, Inflate(&b[data_start], e.compressed_size, e.size, what));
    }
    if (crc32_z(0, content.data(), content.size()) != e.crc) return Status::InvalidArgument(what + ": CRC mismatch (the archive is corrupt)");
    if (e.name.size() < 4 || e.name.compare(e.name.size() - 4, 4, ".npy") != 0) continue;  // not an array
    QAUDIT_ASSIGN_OR_RETURN(HostTensor array, ParseNpy(content, what));
    arrays.push_back({e.name.substr(0, e.name.size() - 4), std::move(array)});
  }
  return arrays;
}

}  // namespace qaudit
