// Small parsers shared by the dataset-spec and preprocessing-spec readers: every number
// must be the whole token, so that "1o" or "0.5x" are errors, not 1 and 0.5.
#ifndef QAUDIT_SRC_DATA_SPEC_TEXT_H_
#define QAUDIT_SRC_DATA_SPEC_TEXT_H_

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qaudit::spec_text {

inline std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t p; (p = text.find(separator, start)) != std::string::npos; start = p + 1) parts.push_back(text.substr(start, p - start));
  parts.push_back(text.substr(start));
  return parts;
}

template <typename Int>
std::optional<Int> ParseInt(const std::string& text) {
  Int value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A finite float; "A/B" is the fraction A divided by B (e.g. 1/255).
inline std::optional<float> ParseNumber(const std::string& text) {
  const auto parse = [](const std::string& t) -> std::optional<double> {
    double value = 0;
    const auto [end, error] = std::from_chars(t.data(), t.data() + t.size(), value);
    if (t.empty() || error != std::errc() || end != t.data() + t.size()) return std::nullopt;
    return value;
  };
  const size_t slash = text.find('/');
  std::optional<double> value = parse(text.substr(0, slash));
  if (value && slash != std::string::npos) {
    const std::optional<double> divisor = parse(text.substr(slash + 1));
    value = divisor && *divisor != 0 ? std::optional<double>(*value / *divisor) : std::nullopt;
  }
  if (!value || !std::isfinite(static_cast<float>(*value))) return std::nullopt;
  return static_cast<float>(*value);
}

}  // namespace qaudit::spec_text

#endif  // QAUDIT_SRC_DATA_SPEC_TEXT_H_
