// Where the shared fixture models live, for tests that use them.
#ifndef QAUDIT_TESTS_SUPPORT_FIXTURES_H_
#define QAUDIT_TESTS_SUPPORT_FIXTURES_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "qaudit/data.h"

namespace qaudit::testing {

// The fixtures folder: $QAUDIT_FIXTURES, else the path CMake was configured with.
inline std::string FixturesDir() {
  if (const char* env = std::getenv("QAUDIT_FIXTURES")) return env;
  return QAUDIT_FIXTURES_DIR;
}

inline std::string Fixture(const std::string& relative) { return FixturesDir() + "/" + relative; }

// An integer test setting from the environment (case counts, seeds), else `fallback`.
inline int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoll(v, nullptr, 10);
}

}  // namespace qaudit::testing

// Fails the calling test when the fixture models are missing: they are part of the
// repository (tests/fixtures), so their absence is a broken checkout or QAUDIT_FIXTURES.
#define QAUDIT_REQUIRE_FIXTURES()                                                  \
  ASSERT_TRUE(std::filesystem::exists(::qaudit::testing::FixturesDir()))           \
      << "fixtures folder " << ::qaudit::testing::FixturesDir() << " is missing (tests/fixtures, or set QAUDIT_FIXTURES)"

// Fails the calling test when Debian's dataset-fashion-mnist is missing: it is a declared
// dependency (scripts/install-deps.sh installs it), so its absence is a broken set-up.
#define QAUDIT_REQUIRE_FASHION_MNIST()                                                             \
  ASSERT_TRUE(std::filesystem::exists(std::string(::qaudit::kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) \
      << "dataset-fashion-mnist is not installed; run scripts/install-deps.sh"

// Fast-path tests need the CPU features the fast path is built for; without them the test
// fails (the suite targets AVX-512 VNNI machines). The portable kernels such a CPU would run
// are covered by the rest of the suite and, as a whole binary on an emulated CPU without
// AVX-512, by without_avx512_test.
#define QAUDIT_REQUIRE_CPU_FEATURES(available, what) \
  ASSERT_TRUE(available) << what " missing on this CPU: the fast-kernel tests need it"

#endif  // QAUDIT_TESTS_SUPPORT_FIXTURES_H_
