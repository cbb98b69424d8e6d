// A small JSON writer for the CLI's --json output.
#ifndef QAUDIT_SRC_CLI_JSON_H_
#define QAUDIT_SRC_CLI_JSON_H_

#include <cmath>
#include <cstdio>
#include <string>

namespace qaudit::cli {

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

}  // namespace qaudit::cli

#endif  // QAUDIT_SRC_CLI_JSON_H_
