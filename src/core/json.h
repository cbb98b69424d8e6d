// JSON for --json output, reports and plans: a small writer and a small reader.
#ifndef QAUDIT_SRC_CORE_JSON_H_
#define QAUDIT_SRC_CORE_JSON_H_

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "qaudit/status.h"

namespace qaudit {

inline std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Shortest text that reads back as the same float; non-finite values become null.
inline std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

template <typename Range, typename Fn>
std::string JsonArray(const Range& range, Fn&& item) {
  std::string out = "[";
  bool first = true;
  for (const auto& x : range) {
    if (!first) out += ",";
    first = false;
    out += item(x);
  }
  return out + "]";
}

// A parsed JSON document. Objects keep their members in document order.
struct JsonMember;

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  // Members in document order. (A std::pair here would need JsonValue complete, which
  // clang's libstdc++ checks inside this definition.)
  std::vector<JsonMember> object;

  // The member named `key` of an object; nullptr when absent or not an object.
  const JsonValue* Find(const std::string& key) const;
  const char* KindName() const;  // "null", "boolean", "number", "string", "array", "object"
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// Parses a whole document (RFC 8259; numbers as double). Errors give the line and column.
Result<JsonValue> ParseJson(const std::string& text);

}  // namespace qaudit

#endif  // QAUDIT_SRC_CORE_JSON_H_
