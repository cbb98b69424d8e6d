// Data fitted to the inputs of a model that may take integers where the data is float.
#ifndef QAUDIT_SRC_AUDIT_MODEL_INPUT_H_
#define QAUDIT_SRC_AUDIT_MODEL_INPUT_H_

#include <string>
#include <vector>

#include "qaudit/graph.h"
#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit::debug {

// The batch as `g` takes it: inputs already of the input's type as they are, the others
// quantized with that input's own parameters (as the model's caller, or TFLite's QUANTIZE,
// would). `model_name`, when not empty, follows "input k" in error messages, for callers
// that hold more than one model.
Result<std::vector<HostTensor>> FitInputsToModel(const std::vector<HostTensor>& inputs, const Graph& g,
                                                 const std::string& model_name = "");

}  // namespace qaudit::debug

#endif  // QAUDIT_SRC_AUDIT_MODEL_INPUT_H_
