#include "qaudit/executor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "kernels/quantize.h"
#include "runtime/op_kernel.h"
#include "runtime/xnnpack_rules.h"

namespace qaudit {

using runtime::BlockEvalFn;
using runtime::EvalFn;
using runtime::PrepareContext;
using runtime::Workspace;

const char* NumericsName(Numerics n) {
  switch (n) {
    case Numerics::kReference: return "reference";
    case Numerics::kTflite: return "tflite";
    case Numerics::kXnnpack: return "xnnpack";
  }
  return "?";
}

std::optional<Numerics> NumericsFromName(const std::string& name) {
  for (Numerics n : {Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack}) {
    if (name == NumericsName(n)) return n;
  }
  return std::nullopt;
}

namespace {

Result<EvalFn> PrepareOperator(const PrepareContext& ctx) {
  switch (ctx.op.kind) {
#define QAUDIT_OP(kind, tflite_name, code, options) \
  case OpKind::k##kind: return runtime::Prepare##kind(ctx);
#include "qaudit/ops.def"
#undef QAUDIT_OP
  }
  return ctx.Unsupported("no kernel");
}

size_t ByteSize(const Tensor& t) { return static_cast<size_t>(t.num_elements()) * DTypeSize(t.dtype); }

}  // namespace

struct Executor::Impl {
  Graph graph;
  ExecutorOptions options;
  std::vector<EvalFn> evals;
  // Per operator, empty unless it runs a block of samples at once (op_kernel.h).
  std::vector<BlockEvalFn> block_evals;
  // Per operator, empty unless it can run fused with the next one (op_kernel.h).
  std::vector<EvalFn> fused_evals;
  // How many samples RunBatch runs together: 1 unless some operator takes blocks.
  int block_samples = 1;
  // Activations live in one arena per invocation; constants are read from the graph.
  std::vector<int64_t> arena_offset;  // -1 for constants
  size_t arena_size = 0;

  // Arenas of earlier RunBatch calls, reused: fresh ones fault in page by page and are
  // cold in cache, which showed at a few hundred samples per call. They hold an earlier
  // sample's tensors, as an arena does for every sample of a call after its first block.
  mutable std::mutex spare_mu;
  mutable std::vector<std::vector<uint8_t>> spare_arenas;

  std::vector<uint8_t> NewArena() const {
    {
      std::lock_guard<std::mutex> lock(spare_mu);
      if (!spare_arenas.empty()) {
        std::vector<uint8_t> arena = std::move(spare_arenas.back());
        spare_arenas.pop_back();
        return arena;
      }
    }
    return std::vector<uint8_t>(arena_size);
  }
  // Keeps up to one block per thread of them (each block is at most about 4 MiB).
  void ReturnArenas(std::vector<std::vector<uint8_t>>& arenas) const {
    std::lock_guard<std::mutex> lock(spare_mu);
    const size_t keep = static_cast<size_t>(block_samples) * std::max(options.num_threads, 1);
    for (std::vector<uint8_t>& arena : arenas) {
      if (spare_arenas.size() < keep) spare_arenas.push_back(std::move(arena));
    }
  }

  Workspace MakeWorkspace(std::vector<uint8_t>& arena) const {
    std::vector<void*> data(graph.tensors.size(), nullptr);
    for (size_t t = 0; t < graph.tensors.size(); ++t) {
      data[t] = arena_offset[t] >= 0 ? static_cast<void*>(arena.data() + arena_offset[t])
                                     : const_cast<uint8_t*>(graph.tensors[t].data.data());
    }
    return Workspace(std::move(data));
  }

  // Input k's bytes of `sample` (at sample * size in inputs[k]) into its slot in `arena`.
  void CopyInputs(const std::vector<const uint8_t*>& inputs, int64_t sample, std::vector<uint8_t>& arena) const {
    for (size_t k = 0; k < graph.inputs.size(); ++k) {
      const size_t n = ByteSize(graph.tensors[graph.inputs[k]]);
      if (n > 0) std::memcpy(arena.data() + arena_offset[graph.inputs[k]], inputs[k] + sample * n, n);
    }
  }

  // Runs samples [first, first + ws.size()) of a batch, sample first + s in arenas[s]
  // (seen through ws[s]): input k's bytes are taken at offset sample * size. Operators
  // run sample by sample, except those with a block form, which run once for the whole
  // block; between them each sample's activations stay in cache. With `fuse`, operators
  // that run fused with the next one do so, leaving the tensors between them unwritten.
  void RunBlock(std::vector<std::vector<uint8_t>>& arenas, const std::vector<const Workspace*>& ws,
                const std::vector<const uint8_t*>& inputs, int64_t first, const std::vector<uint8_t*>& outputs,
                bool fuse) const {
    const size_t samples = ws.size();
    for (size_t s = 0; s < samples; ++s) CopyInputs(inputs, first + s, arenas[s]);
    for (size_t op = 0; op < evals.size();) {
      if (block_evals[op] && samples > 1) {
        block_evals[op](ws);
        ++op;
        continue;
      }
      size_t end = op;
      while (end < evals.size() && !(block_evals[end] && samples > 1)) ++end;
      for (size_t s = 0; s < samples; ++s) {
        for (size_t i = op; i < end; ++i) {
          if (fuse && fused_evals[i] && i + 1 < end) {
            fused_evals[i](*ws[s]);
            ++i;
            continue;
          }
          evals[i](*ws[s]);
        }
      }
      op = end;
    }
    for (size_t s = 0; s < samples; ++s) {
      for (size_t k = 0; k < graph.outputs.size(); ++k) {
        const Tensor& t = graph.tensors[graph.outputs[k]];
        const size_t n = ByteSize(t);
        const uint8_t* src = arena_offset[graph.outputs[k]] >= 0 ? arenas[s].data() + arena_offset[graph.outputs[k]]
                                                                 : t.data.data();
        if (n > 0) std::memcpy(outputs[k] + (first + s) * n, src, n);  // empty vectors' data() may be null
      }
    }
  }
};

namespace {

// float16 weights (TFLite's float16 method) are converted once, as TFLite does for a
// DEQUANTIZE of a constant (its output becomes persistent) and XNNPACK does by folding it:
// the float ops then read constant weights and take their fast paths. The values are the
// exact fp16 -> fp32 conversions, so outputs do not change.
void FoldConstantHalfDequantize(Graph& g) {
  std::vector<Operator> kept;
  for (Operator& op : g.operators) {
    // Only what DEQUANTIZE's Prepare would accept is folded (a folded op is never prepared):
    // both tensors present (an optional input is -1), float16 in, float32 out, same size.
    const auto fits = [&] {
      if (op.inputs.size() != 1 || op.outputs.size() != 1 || op.inputs[0] < 0 || op.outputs[0] < 0) return false;
      const Tensor& in = g.tensors[op.inputs[0]];
      const Tensor& out = g.tensors[op.outputs[0]];
      return in.is_constant && in.dtype == DType::kFloat16 && out.dtype == DType::kFloat32 &&
             out.shape == in.shape && std::find(g.outputs.begin(), g.outputs.end(), op.outputs[0]) == g.outputs.end();
    };
    const bool foldable = op.kind == OpKind::kDequantize && fits();
    if (!foldable) {
      kept.push_back(std::move(op));
      continue;
    }
    const Tensor& in = g.tensors[op.inputs[0]];
    Tensor& out = g.tensors[op.outputs[0]];
    out.data.resize(in.num_elements() * sizeof(float));
    kernels::DequantizeHalf(in.data_as<uint16_t>(), in.num_elements(), reinterpret_cast<float*>(out.data.data()));
    out.is_constant = true;
  }
  g.operators = std::move(kept);
}

}  // namespace

Executor::Executor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Executor::~Executor() = default;
const Graph& Executor::graph() const { return impl_->graph; }

Result<std::unique_ptr<Executor>> Executor::Create(Graph graph, const ExecutorOptions& options) {
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(graph));
  auto impl = std::make_unique<Impl>();
  FoldConstantHalfDequantize(graph);
  impl->graph = std::move(graph);
  impl->options = options;
  const Graph& g = impl->graph;
  for (int t : g.inputs) {
    if (g.tensors[t].is_constant) {
      return Status::InvalidArgument("graph input tensor " + std::to_string(t) + " '" + g.tensors[t].name +
                                     "' is a constant");
    }
  }
  Numerics numerics = options.numerics;
  if (numerics == Numerics::kXnnpack &&
      std::any_of(g.operators.begin(), g.operators.end(),
                  [&](const Operator& op) { return runtime::XnnpackRuntimeFailsOn(g, op); })) {
    numerics = Numerics::kTflite;  // what TFLite does when XNNPACK cannot build its runtime
  }
  for (size_t i = 0; i < g.operators.size(); ++i) {
    BlockEvalFn block_eval;
    EvalFn fused;
    PrepareContext ctx{g, g.operators[i], static_cast<int>(i), numerics, &block_eval, &fused};
    QAUDIT_ASSIGN_OR_RETURN(EvalFn eval, PrepareOperator(ctx));
    // An operator whose outputs hold no elements has nothing to compute, however large its
    // other dimensions are ([0, 2^31-1, ...] passes VerifyGraph): its kernel would only loop
    // over empty rows or multiply those dimensions past int64.
    bool produces_nothing = true;
    for (int t : g.operators[i].outputs) produces_nothing = produces_nothing && g.tensors[t].num_elements() == 0;
    if (produces_nothing) eval = [](const Workspace&) {}, block_eval = nullptr, fused = nullptr;
    impl->evals.push_back(std::move(eval));
    impl->block_evals.push_back(std::move(block_eval));
    impl->fused_evals.push_back(std::move(fused));
  }
  // A fused pair runs sample by sample: not when the second operator takes blocks.
  for (size_t i = 0; i < impl->fused_evals.size(); ++i) {
    if (i + 1 >= impl->evals.size() || impl->block_evals[i + 1]) impl->fused_evals[i] = nullptr;
  }
  impl->arena_offset.assign(g.tensors.size(), -1);
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (g.tensors[t].is_constant) continue;
    impl->arena_offset[t] = static_cast<int64_t>(impl->arena_size);
    impl->arena_size += (ByteSize(g.tensors[t]) + 63) / 64 * 64;  // cache-line aligned slots
  }
  // Blocks of up to 32 samples (a FULLY_CONNECTED then multiplies 32 rows per pass over its
  // weights), as long as their arenas stay within about 4 MiB.
  const auto& blocks = impl->block_evals;
  if (std::any_of(blocks.begin(), blocks.end(), [](const BlockEvalFn& f) { return f != nullptr; })) {
    const size_t fit = (size_t{4} << 20) / std::max<size_t>(impl->arena_size, 1);
    impl->block_samples = static_cast<int>(std::clamp<size_t>(fit, 1, 32));
  }
  return std::unique_ptr<Executor>(new Executor(std::move(impl)));
}

namespace {

// How many samples `in` holds for graph input `t`: [N, ...shape] or, when shape[0] == 1,
// [N, shape[1:]...]. Returns -1 when it fits neither.
int64_t SamplesIn(const HostTensor& in, const Tensor& t) {
  const Shape& s = t.shape;
  if (in.shape.size() == s.size() + 1 && std::equal(s.begin(), s.end(), in.shape.begin() + 1)) return in.shape[0];
  if (!s.empty() && s[0] == 1 && in.shape.size() == s.size() &&
      std::equal(s.begin() + 1, s.end(), in.shape.begin() + 1)) {
    return in.shape[0];
  }
  return -1;
}

}  // namespace

Result<std::vector<HostTensor>> Executor::RunBatch(const std::vector<HostTensor>& inputs,
                                                   const ProgressFn& progress,
                                                   const SampleObserver& observer) const {
  const Graph& g = impl_->graph;
  if (inputs.size() != g.inputs.size()) {
    return Status::InvalidArgument("the model has " + std::to_string(g.inputs.size()) + " inputs but " +
                                   std::to_string(inputs.size()) + " were given");
  }
  int64_t samples = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = g.tensors[g.inputs[k]];
    const std::string label = "input " + std::to_string(k) + " '" + t.name + "'";
    if (inputs[k].dtype != t.dtype) {
      return Status::InvalidArgument(label + " is " + DTypeName(t.dtype) + " but " + DTypeName(inputs[k].dtype) +
                                     " data was given");
    }
    const int64_t n = SamplesIn(inputs[k], t);
    if (n < 0) {
      return Status::InvalidArgument(label + " has shape " + ShapeToString(t.shape) + "; data of shape " +
                                     ShapeToString(inputs[k].shape) + " is not a batch of it");
    }
    if (samples >= 0 && n != samples) {
      return Status::InvalidArgument(label + " holds " + std::to_string(n) + " samples but input 0 holds " +
                                     std::to_string(samples));
    }
    if (inputs[k].bytes.size() != static_cast<size_t>(n) * ByteSize(t)) {
      return Status::InvalidArgument(label + " has " + std::to_string(inputs[k].bytes.size()) + " bytes, expected " +
                                     std::to_string(n * ByteSize(t)));
    }
    samples = n;
  }
  if (samples < 0) samples = 1;  // a model without inputs still runs once

  std::vector<HostTensor> outputs(g.outputs.size());
  std::vector<uint8_t*> out_ptrs;
  for (size_t k = 0; k < g.outputs.size(); ++k) {
    const Tensor& t = g.tensors[g.outputs[k]];
    outputs[k].dtype = t.dtype;
    outputs[k].shape = t.shape;
    // A batch-of-one leading dimension becomes the sample count; otherwise one is added.
    if (!t.shape.empty() && t.shape[0] == 1) {
      outputs[k].shape[0] = static_cast<int32_t>(samples);
    } else {
      outputs[k].shape.insert(outputs[k].shape.begin(), static_cast<int32_t>(samples));
    }
    outputs[k].bytes.resize(static_cast<size_t>(samples) * ByteSize(t));
    out_ptrs.push_back(outputs[k].bytes.data());
  }
  std::vector<const uint8_t*> in_ptrs;
  for (const HostTensor& in : inputs) in_ptrs.push_back(in.bytes.data());

  const int threads = static_cast<int>(std::clamp<int64_t>(impl_->options.num_threads, 1, samples));
  std::atomic<int64_t> done{0};
  auto worker = [&](int index, int64_t begin, int64_t end) {
    const int64_t block = std::min<int64_t>(impl_->block_samples, std::max<int64_t>(end - begin, 1));
    std::vector<std::vector<uint8_t>> arenas;
    std::vector<Workspace> workspaces;
    for (int64_t s = 0; s < block; ++s) arenas.push_back(impl_->NewArena());
    for (std::vector<uint8_t>& arena : arenas) workspaces.push_back(impl_->MakeWorkspace(arena));
    std::vector<std::vector<const void*>> tensors(observer ? block : 0);
    for (size_t s = 0; s < tensors.size(); ++s) {
      for (size_t t = 0; t < g.tensors.size(); ++t) tensors[s].push_back(workspaces[s].Get<void>(static_cast<int>(t)));
    }
    std::vector<const Workspace*> ws;
    for (int64_t first = begin; first < end; first += block) {
      const int64_t n = std::min(block, end - first);
      ws.clear();
      for (int64_t s = 0; s < n; ++s) ws.push_back(&workspaces[s]);
      impl_->RunBlock(arenas, ws, in_ptrs, first, out_ptrs, /*fuse=*/!observer);
      if (observer) {
        for (int64_t s = 0; s < n; ++s) observer(index, first + s, tensors[s]);
      }
      done.fetch_add(n, std::memory_order_relaxed);
    }
    impl_->ReturnArenas(arenas);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t, samples * t / threads, samples * (t + 1) / threads);
  if (progress && threads > 1) {
    std::thread first(worker, 0, 0, samples / threads);
    while (done.load() < samples) {
      progress(done.load(), samples);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    first.join();
  } else {
    worker(0, 0, samples / threads);
  }
  for (std::thread& t : pool) t.join();
  if (progress) progress(samples, samples);
  return outputs;
}

Result<std::vector<HostTensor>> Executor::Run(const std::vector<HostTensor>& inputs) const {
  const Graph& g = impl_->graph;
  for (size_t k = 0; k < inputs.size() && k < g.inputs.size(); ++k) {
    const Tensor& t = g.tensors[g.inputs[k]];
    if (inputs[k].shape != t.shape && inputs[k].num_elements() == t.num_elements()) continue;
    if (inputs[k].shape != t.shape) {
      return Status::InvalidArgument("input " + std::to_string(k) + " '" + t.name + "' has shape " +
                                     ShapeToString(t.shape) + " but data of shape " +
                                     ShapeToString(inputs[k].shape) + " was given");
    }
  }
  // A single invocation is a batch of one whose shapes are the graph's own.
  std::vector<HostTensor> batch = inputs;
  for (size_t k = 0; k < batch.size() && k < g.inputs.size(); ++k) {
    batch[k].shape = g.tensors[g.inputs[k]].shape;
    batch[k].shape.insert(batch[k].shape.begin(), 1);
  }
  QAUDIT_ASSIGN_OR_RETURN(std::vector<HostTensor> outputs, RunBatch(batch));
  for (size_t k = 0; k < outputs.size(); ++k) outputs[k].shape = g.tensors[g.outputs[k]].shape;
  return outputs;
}

Result<std::vector<Executor::OperatorTime>> Executor::ProfileOperators(const std::vector<HostTensor>& inputs,
                                                                        int runs) const {
  QAUDIT_RETURN_IF_ERROR(Run(inputs).status());  // checks the inputs; warms caches and arenas
  const Impl& impl = *impl_;
  const Graph& g = impl.graph;
  std::vector<uint8_t> arena = impl.NewArena();
  const Workspace ws = impl.MakeWorkspace(arena);
  std::vector<const uint8_t*> input_bytes;
  for (const HostTensor& t : inputs) input_bytes.push_back(t.bytes.data());
  impl.CopyInputs(input_bytes, 0, arena);
  // The operators in the order and grouping RunBlock runs one sample in.
  std::vector<OperatorTime> times;
  for (size_t i = 0; i < impl.evals.size(); ++i) {
    const bool fused = impl.fused_evals[i] && i + 1 < impl.evals.size();
    OperatorTime t{static_cast<int>(i), fused ? 2 : 1, MultiplyAccumulates(g, g.operators[i]), 0.0};
    if (fused) t.macs += MultiplyAccumulates(g, g.operators[i + 1]);
    times.push_back(t);
    i += fused;
  }
  std::vector<std::vector<double>> samples(times.size());
  for (int r = 0; r < std::max(runs, 1); ++r) {
    for (size_t j = 0; j < times.size(); ++j) {
      const auto start = std::chrono::steady_clock::now();
      (times[j].fused_ops == 2 ? impl.fused_evals : impl.evals)[times[j].op](ws);
      samples[j].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    }
  }
  for (size_t j = 0; j < times.size(); ++j) {
    std::vector<double>& v = samples[j];
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    times[j].median_us = v[v.size() / 2];
  }
  std::vector<std::vector<uint8_t>> used;
  used.push_back(std::move(arena));
  impl.ReturnArenas(used);
  return times;
}

std::string Executor::OperatorTimesTable(const Graph& graph, const std::vector<OperatorTime>& times) {
  double total = 0;
  for (const OperatorTime& t : times) total += t.median_us;
  std::string table;
  char line[256];
  std::snprintf(line, sizeof line, "  %3s  %-32s %-18s %10s %9s %8s %6s\n", "op", "operator", "output", "MAC", "us",
                "GMAC/s", "share");
  table += line;
  for (const OperatorTime& t : times) {
    const Operator& first = graph.operators[t.op];
    const Operator& last = graph.operators[t.op + t.fused_ops - 1];
    std::string name = OpName(first.kind);
    if (t.fused_ops > 1) name += std::string("+") + OpName(last.kind);
    const std::string shape = last.outputs.empty() ? "" : ShapeToString(graph.tensors[last.outputs[0]].shape);
    std::snprintf(line, sizeof line, "  %3d  %-32s %-18s %10lld %9.2f %8.1f %5.1f%%\n", t.op, name.c_str(),
                  shape.c_str(), static_cast<long long>(t.macs), t.median_us,
                  t.macs > 0 && t.median_us > 0 ? t.macs / t.median_us / 1e3 : 0.0,
                  total > 0 ? 100.0 * t.median_us / total : 0.0);
    table += line;
  }
  std::snprintf(line, sizeof line, "  total %.1f us (sum of the medians)\n", total);
  return table + line;
}

}  // namespace qaudit
