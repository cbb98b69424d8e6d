// Where the shared fixture models live, for tests that use them.
#ifndef QAUDIT_TESTS_SUPPORT_FIXTURES_H_
#define QAUDIT_TESTS_SUPPORT_FIXTURES_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace qaudit::testing {

// The fixtures folder: $QAUDIT_FIXTURES, else the path CMake was configured with.
inline std::string FixturesDir() {
  if (const char* env = std::getenv("QAUDIT_FIXTURES")) return env;
  return QAUDIT_FIXTURES_DIR;
}

inline std::string Fixture(const std::string& relative) { return FixturesDir() + "/" + relative; }

}  // namespace qaudit::testing

// Skips the calling test, saying why, when the shared fixtures are not on this machine.
#define QAUDIT_REQUIRE_FIXTURES()                                                          \
  do {                                                                                     \
    if (!std::filesystem::exists(::qaudit::testing::FixturesDir())) {                      \
      GTEST_SKIP() << "fixtures folder " << ::qaudit::testing::FixturesDir()               \
                   << " is missing (set QAUDIT_FIXTURES)";                                 \
    }                                                                                      \
  } while (0)

#endif  // QAUDIT_TESTS_SUPPORT_FIXTURES_H_
