// Operators in the op table whose kernels are not written yet: they are refused by name
// when a model uses them.
#include "runtime/op_kernel.h"

namespace qaudit::runtime {

#define QAUDIT_PENDING(kind) \
  Result<EvalFn> Prepare##kind(const PrepareContext& ctx) { return ctx.Unsupported("no kernel yet"); }
QAUDIT_PENDING(Softmax)
QAUDIT_PENDING(Logistic)
QAUDIT_PENDING(Tanh)
QAUDIT_PENDING(HardSwish)
QAUDIT_PENDING(LeakyRelu)
QAUDIT_PENDING(Relu)
QAUDIT_PENDING(Relu6)
QAUDIT_PENDING(Mean)
QAUDIT_PENDING(Mul)
QAUDIT_PENDING(Quantize)
QAUDIT_PENDING(Dequantize)
#undef QAUDIT_PENDING

}  // namespace qaudit::runtime
