#include "audit/model_input.h"

#include <utility>

#include "qaudit/data.h"

namespace qaudit::debug {

Result<std::vector<HostTensor>> FitInputsToModel(const std::vector<HostTensor>& inputs, const Graph& g,
                                                 const std::string& model_name) {
  std::vector<HostTensor> fitted;
  for (size_t k = 0; k < inputs.size() && k < g.inputs.size(); ++k) {
    const Tensor& t = g.tensors[g.inputs[k]];
    if (t.dtype == inputs[k].dtype) {
      fitted.push_back(inputs[k]);
      continue;
    }
    Dataset d;
    d.source = "input " + std::to_string(k);
    if (!model_name.empty()) d.source += " of " + model_name;
    d.samples = inputs[k];
    QAUDIT_ASSIGN_OR_RETURN(HostTensor h, FitToInput(d, InputSpec{t.name, t.dtype, t.shape, t.quant}));
    fitted.push_back(std::move(h));
  }
  return fitted;
}

}  // namespace qaudit::debug
