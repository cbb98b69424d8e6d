// Running a model in qaudit and in TFLite (the oracle) on the same inputs and comparing
// every output: integer outputs bit for bit, float outputs to a relative tolerance (float
// kernels may sum in another order than TFLite).
#ifndef QAUDIT_TESTS_SUPPORT_ORACLE_COMPARE_H_
#define QAUDIT_TESTS_SUPPORT_ORACLE_COMPARE_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "qaudit/executor.h"
#include "qaudit/graph.h"
#include "support/tflite_oracle.h"

namespace qaudit::testing {

// The model with every operator output (plus the original outputs) as a graph output, so
// that a comparison names the first layer that differs. Outputs of operators that read
// only constants are left out: XNNPACK folds them into its packed weights.
Graph ExposeAllLayers(Graph g);

struct OracleComparison {
  bool ok = false;
  std::string message;  // what differs (first differing layer), or why nothing could run
};

// Writes `graph` to a temporary file, runs each case (one HostTensor per graph input) in
// the oracle (XNNPACK on for Numerics::kXnnpack) and in qaudit's executor with `numerics`,
// and compares all outputs. `float_tolerance` is relative to max(1, |TFLite's value|).
OracleComparison CompareWithOracle(TfliteOracle& oracle, const Graph& graph,
                                   const std::vector<std::vector<HostTensor>>& cases, Numerics numerics,
                                   float float_tolerance = 1e-5f);

// A test fixture holding the oracle process shared by the test binary; the test fails
// (with the reason) when the oracle cannot start. Base is ::testing::Test or a
// ::testing::TestWithParam<...>.
template <typename Base = ::testing::Test>
class WithOracle : public Base {
 protected:
  void SetUp() override {
    std::string error;
    oracle_ = SharedOracle(&error);
    ASSERT_NE(oracle_, nullptr) << error;
  }
  TfliteOracle* oracle_ = nullptr;
};

}  // namespace qaudit::testing

#endif  // QAUDIT_TESTS_SUPPORT_ORACLE_COMPARE_H_
