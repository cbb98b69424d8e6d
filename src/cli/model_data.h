// Turning a --data / --calibration spec into the batch a model's input takes.
#ifndef QAUDIT_SRC_CLI_MODEL_DATA_H_
#define QAUDIT_SRC_CLI_MODEL_DATA_H_

#include <string>
#include <vector>

#include "qaudit/data.h"
#include "qaudit/graph.h"

namespace qaudit::cli {

struct ModelData {
  Dataset dataset;                 // as loaded (labels, class names)
  std::vector<HostTensor> inputs;  // one batch per graph input, as Executor::RunBatch takes
};

// Loads `spec` (LoadDataset's syntax) with `preprocess` (ParsePreprocess's syntax) and fits
// it to the graph's single input. Images are resized to a 4-D input's height and width and
// converted to its channels unless the preprocessing names a size.
inline Result<ModelData> LoadModelData(const Graph& graph, const std::string& spec, const std::string& preprocess) {
  if (graph.inputs.size() != 1) {
    return Status::Unsupported("the model has " + std::to_string(graph.inputs.size()) +
                               " inputs; datasets can feed single-input models only");
  }
  QAUDIT_ASSIGN_OR_RETURN(Preprocess pre, ParsePreprocess(preprocess));
  const Tensor& t = graph.tensors[graph.inputs[0]];
  const InputSpec input{t.name, t.dtype, t.shape, t.quant};
  pre = PreprocessFor(input, pre);
  ModelData data;
  QAUDIT_ASSIGN_OR_RETURN(data.dataset, LoadDataset(spec, pre));
  QAUDIT_ASSIGN_OR_RETURN(HostTensor batch, FitToInput(data.dataset, input, pre));
  data.inputs.push_back(std::move(batch));
  return data;
}

}  // namespace qaudit::cli

#endif  // QAUDIT_SRC_CLI_MODEL_DATA_H_
