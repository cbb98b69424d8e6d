// Small helpers shared by the kernel unit tests.
#ifndef QAUDIT_TESTS_SUPPORT_KERNEL_TEST_UTIL_H_
#define QAUDIT_TESTS_SUPPORT_KERNEL_TEST_UTIL_H_

#include <vector>

namespace qaudit::testing {

// The first n values as ints, so gtest prints and compares int8/uint8 arrays as numbers.
template <typename T>
std::vector<int> Ints(const T* v, int n) {
  return std::vector<int>(v, v + n);
}

}  // namespace qaudit::testing

#endif  // QAUDIT_TESTS_SUPPORT_KERNEL_TEST_UTIL_H_
