// Random single-operator models, run in TFLite's interpreter (the oracle) and in qaudit,
// compared bit for bit in two modes: Numerics::kTflite against the oracle's built-in
// kernels (--no-xnnpack) and Numerics::kXnnpack against the oracle with its default
// XNNPACK delegate. See oracle/single_op_generator.h for what the cases cover.
//
// Environment:
//   QAUDIT_SINGLE_OP_CASES  number of cases (default 300); each runs in both modes
//   QAUDIT_SINGLE_OP_SEED   generator seed (default 1)
//   QAUDIT_SINGLE_OP_FIRST  index of the first case (default 0)
//   QAUDIT_SINGLE_OP_OPS    comma-separated generator entries to restrict to ("ADD,SUB");
//                           case indices then count within that selection
//   QAUDIT_SINGLE_OP_MODES  "tflite", "xnnpack" or both (default "tflite,xnnpack")
//   QAUDIT_SINGLE_OP_KEEP   folder to copy the model, inputs and description of every
//                           failing case into
//   QAUDIT_SINGLE_OP_LOG    file to write one line per (case, mode) outcome into
//
// Outcomes: "exact" (all outputs bit-identical), "float~" (float outputs differ only by
// float rounding, which the summary quantifies but does not fail on), "mismatch" (fails),
// "not covered" (qaudit refuses the op with StatusCode::kUnsupported: not a pass, not a
// failure), "tflite refused" (the oracle refused the model: a generator bug, fails) and
// "qaudit error" (qaudit rejects or fails on a model TFLite runs: fails).
#include <gtest/gtest.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "oracle/single_op_generator.h"
#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"
#include "support/oracle_compare.h"
#include "support/tflite_oracle.h"

namespace qaudit {
namespace {

namespace fs = std::filesystem;
using testing::CaseTypeName;
using testing::EnvInt;
using testing::SingleOpCase;

std::vector<std::string> EnvList(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  std::string s = v != nullptr && *v != '\0' ? v : fallback;
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

struct Counts {
  int64_t cases = 0, exact = 0, float_rounding = 0, mismatched = 0, not_covered = 0, tflite_refused = 0,
          qaudit_error = 0, xnnpack_took = 0;
  // Over the float outputs that differed by rounding only.
  int64_t max_ulp = 0;
  double max_rel = 0;  // |got - expected| / max |expected| of that output tensor
  std::map<std::string, int> reasons;  // why not covered / refused, by message
};

// Float rounding: differences up to this fraction of the output tensor's largest
// magnitude are summation order, not a different computation.
constexpr double kFloatTolerance = 1e-5;

int64_t OrderedBits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : i;
}

struct Comparison {
  bool shape_ok = true;
  int64_t differing = 0, total = 0;
  int64_t first = -1;
  std::string first_expected, first_got;
  bool float_rounding_only = true;  // meaningful for float outputs with differences
  int64_t max_ulp = 0;
  double max_rel = 0;
  std::map<int64_t, int64_t> histogram;  // got - expected -> count (integers)
};

double ElementAsDouble(const HostTensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::kFloat32: return t.data<float>()[i];
    case DType::kInt8: return t.data<int8_t>()[i];
    case DType::kUInt8: return t.data<uint8_t>()[i];
    case DType::kInt16: return t.data<int16_t>()[i];
    case DType::kInt32: return t.data<int32_t>()[i];
    case DType::kInt64: return static_cast<double>(t.data<int64_t>()[i]);
    default: return NAN;
  }
}

std::string ElementString(const HostTensor& t, int64_t i) {
  std::ostringstream s;
  if (t.dtype == DType::kFloat32) {
    s.precision(9);
    const float f = t.data<float>()[i];
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", bits);
    s << f << " (" << hex << ")";
  } else {
    s << static_cast<int64_t>(ElementAsDouble(t, i));
  }
  return s.str();
}

std::string IndexString(const Shape& shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? "," : "") + std::to_string(idx[d]);
  return s + "]";
}

Comparison Compare(const HostTensor& expected, const HostTensor& got) {
  Comparison c;
  c.total = expected.num_elements();
  if (expected.dtype != got.dtype || expected.num_elements() != got.num_elements()) {
    c.shape_ok = false;
    return c;
  }
  const size_t size = DTypeSize(expected.dtype);
  double max_abs = 0;
  if (expected.dtype == DType::kFloat32) {
    for (int64_t i = 0; i < c.total; ++i) max_abs = std::max(max_abs, std::fabs(double{expected.data<float>()[i]}));
  }
  for (int64_t i = 0; i < c.total; ++i) {
    if (std::memcmp(&expected.bytes[i * size], &got.bytes[i * size], size) == 0) continue;
    ++c.differing;
    if (c.first < 0) {
      c.first = i;
      c.first_expected = ElementString(expected, i);
      c.first_got = ElementString(got, i);
    }
    if (expected.dtype == DType::kFloat32) {
      const float e = expected.data<float>()[i], g = got.data<float>()[i];
      if (!std::isfinite(e) || !std::isfinite(g)) {
        c.float_rounding_only = false;
        continue;
      }
      const double diff = std::fabs(double{g} - double{e});
      const double rel = max_abs > 0 ? diff / max_abs : INFINITY;
      c.max_rel = std::max(c.max_rel, rel);
      c.max_ulp = std::max<int64_t>(c.max_ulp, std::llabs(OrderedBits(g) - OrderedBits(e)));
      if (!(rel <= kFloatTolerance)) c.float_rounding_only = false;
    } else {
      ++c.histogram[static_cast<int64_t>(ElementAsDouble(got, i) - ElementAsDouble(expected, i))];
    }
  }
  return c;
}

std::string ModeName(Numerics n) { return n == Numerics::kXnnpack ? "xnnpack" : "tflite"; }

std::string KernelsString(const std::map<std::string, int>& kernels) {
  std::string s;
  for (const auto& [name, count] : kernels) s += (s.empty() ? "" : ", ") + name + " x" + std::to_string(count);
  return s.empty() ? "(none reported)" : s;
}

// First line of a message, without the operator label qaudit puts in front.
std::string Reason(const std::string& message) {
  std::string s = message.substr(0, message.find('\n'));
  const size_t colon = s.find("): ");
  if (colon != std::string::npos) s = s.substr(colon + 3);
  if (s.size() > 110) s = s.substr(0, 107) + "...";
  return s;
}

// The informative line of a TFLite refusal: the first ERROR line that is not one of the
// generic "Node number N failed to prepare" / "Failed to apply the delegate" lines.
std::string TfliteReason(const std::string& error) {
  std::stringstream in(error);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("ERROR") == std::string::npos || line.find("Node number") != std::string::npos ||
        line.find("Failed to apply") != std::string::npos) {
      continue;
    }
    const size_t tp = line.find("tensorflow/lite/");
    if (tp != std::string::npos) line = line.substr(tp + 16);
    return Reason(line);
  }
  return Reason(error);
}

class SingleOpOracleTest : public testing::WithOracle<> {};

TEST_F(SingleOpOracleTest, RandomSingleOpModelsMatchTflite) {
  ASSERT_NE(oracle_, nullptr);
  const int64_t num_cases = EnvInt("QAUDIT_SINGLE_OP_CASES", 300);
  const auto seed = static_cast<uint64_t>(EnvInt("QAUDIT_SINGLE_OP_SEED", 1));
  const int64_t first = EnvInt("QAUDIT_SINGLE_OP_FIRST", 0);
  const std::vector<std::string> only = EnvList("QAUDIT_SINGLE_OP_OPS", "");
  std::vector<Numerics> modes;
  for (const std::string& m : EnvList("QAUDIT_SINGLE_OP_MODES", "tflite,xnnpack")) {
    auto n = NumericsFromName(m);
    ASSERT_TRUE(n.has_value() && *n != Numerics::kReference) << "QAUDIT_SINGLE_OP_MODES: unknown mode " << m;
    modes.push_back(*n);
  }
  const char* keep_env = std::getenv("QAUDIT_SINGLE_OP_KEEP");
  const std::string keep_dir = keep_env != nullptr ? keep_env : "";
  std::ofstream log;
  if (const char* log_path = std::getenv("QAUDIT_SINGLE_OP_LOG")) log.open(log_path);
  std::string only_joined;
  for (const std::string& o : only) only_joined += (only_joined.empty() ? "" : ",") + o;

  const fs::path dir = fs::temp_directory_path() / ("qaudit_single_op_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string model_file = (dir / "model.tflite").string();
  const std::string out_dir = (dir / "out").string();

  // (entry, dtype, mode) -> counts, in table order.
  std::map<std::tuple<std::string, std::string, std::string>, Counts> counts;
  int64_t failures_reported = 0, failures = 0;
  std::map<std::tuple<std::string, std::string, std::string>, int> reported_per_key;
  constexpr int kMaxReportsPerKey = 2, kMaxReports = 40;

  for (int64_t index = first; index < first + num_cases; ++index) {
    auto generated = testing::GenerateSingleOpCase(seed, index, only);
    ASSERT_TRUE(generated.ok()) << generated.status().message();
    const SingleOpCase& c = *generated;
    auto written = WriteTfliteFile(c.graph, model_file);
    ASSERT_TRUE(written.ok()) << written.message();
    std::vector<std::string> input_files;
    for (size_t k = 0; k < c.inputs.size(); ++k) {
      input_files.push_back((dir / ("input_" + std::to_string(k) + ".npy")).string());
      auto w = WriteNpy(input_files.back(), c.inputs[k]);
      ASSERT_TRUE(w.ok()) << w.message();
    }
    const std::string reproduce = "QAUDIT_SINGLE_OP_SEED=" + std::to_string(seed) +
                                  " QAUDIT_SINGLE_OP_FIRST=" + std::to_string(index) + " QAUDIT_SINGLE_OP_CASES=1" +
                                  (only.empty() ? "" : " QAUDIT_SINGLE_OP_OPS=" + only_joined);

    for (Numerics mode : modes) {
      const auto key = std::make_tuple(c.entry, std::string(CaseTypeName(c.type)), ModeName(mode));
      Counts& n = counts[key];
      ++n.cases;
      std::string outcome, detail;
      bool failed = false;
      std::map<std::string, int> kernels;

      auto reply = oracle_->Run(model_file, input_files, out_dir, mode == Numerics::kXnnpack);
      ASSERT_TRUE(reply.ok()) << "the oracle failed: " << reply.status().message() << "\n" << c.Describe();
      auto executor = Executor::Create(c.graph, {mode, 1});
      if (!reply->ok) {
        ++n.tflite_refused;
        ++n.reasons["TFLite: " + TfliteReason(reply->error)];
        outcome = "tflite-refused";
        detail = reply->error;
        failed = true;
      } else {
        kernels = reply->executed_kernels;
        if (kernels.count("TfLiteXNNPackDelegate")) ++n.xnnpack_took;
        if (!executor.ok()) {
          if (executor.status().code() == StatusCode::kUnsupported) {
            ++n.not_covered;
            ++n.reasons["qaudit: " + Reason(executor.status().message())];
            outcome = "not-covered";
          } else {
            ++n.qaudit_error;
            outcome = "qaudit-error";
            detail = executor.status().message();
            failed = true;
          }
        } else {
          auto ours = (*executor)->Run(c.inputs);
          if (!ours.ok()) {
            ++n.qaudit_error;
            outcome = "qaudit-error";
            detail = ours.status().message();
            failed = true;
          } else if (ours->size() != reply->outputs.size()) {
            ++n.mismatched;
            outcome = "mismatch";
            detail = "qaudit produced " + std::to_string(ours->size()) + " outputs, TFLite " +
                     std::to_string(reply->outputs.size());
            failed = true;
          } else {
            bool any_diff = false, all_rounding = true;
            for (size_t k = 0; k < ours->size() && detail.empty(); ++k) {
              auto theirs = ReadNpy(reply->outputs[k].file);
              ASSERT_TRUE(theirs.ok()) << theirs.status().message();
              const HostTensor& mine = (*ours)[k];
              Comparison cmp = Compare(*theirs, mine);
              Shape reply_shape(reply->outputs[k].shape.begin(), reply->outputs[k].shape.end());
              if (!cmp.shape_ok || reply_shape != mine.shape) {
                detail = "output " + std::to_string(k) + ": TFLite gives " + reply->outputs[k].dtype + " " +
                         ShapeToString(reply_shape) + ", qaudit " + DTypeName(mine.dtype) + " " +
                         ShapeToString(mine.shape);
                any_diff = true;
                all_rounding = false;
                break;
              }
              if (cmp.differing == 0) continue;
              any_diff = true;
              const bool is_float = mine.dtype == DType::kFloat32;
              if (is_float && cmp.float_rounding_only) {
                n.max_ulp = std::max(n.max_ulp, cmp.max_ulp);
                n.max_rel = std::max(n.max_rel, cmp.max_rel);
                continue;
              }
              all_rounding = false;
              std::ostringstream s;
              s << "output " << k << " (" << DTypeName(mine.dtype) << " " << ShapeToString(mine.shape) << "): "
                << cmp.differing << " of " << cmp.total << " elements differ; first at flat " << cmp.first << " "
                << IndexString(mine.shape, cmp.first) << ": TFLite " << cmp.first_expected << ", qaudit "
                << cmp.first_got;
              if (is_float) {
                s << "; max " << cmp.max_ulp << " ULP, max relative " << cmp.max_rel;
              } else {
                s << "; qaudit - TFLite:";
                for (const auto& [delta, count] : cmp.histogram) s << " " << (delta > 0 ? "+" : "") << delta << " x" << count;
              }
              detail = s.str();
            }
            if (!any_diff) {
              ++n.exact;
              outcome = "exact";
            } else if (all_rounding) {
              ++n.float_rounding;
              outcome = "float-rounding";
            } else {
              ++n.mismatched;
              outcome = "mismatch";
              failed = true;
            }
          }
        }
      }
      if (log.is_open()) {
        log << index << "\t" << c.entry << "\t" << CaseTypeName(c.type) << "\t" << ModeName(mode) << "\t" << outcome
            << "\t" << KernelsString(kernels) << "\t";
        for (size_t i = 0; i < c.tags.size(); ++i) log << (i ? "," : "") << c.tags[i];
        log << "\t" << detail.substr(0, detail.find('\n')) << "\n";
      }
      if (!failed) continue;
      ++failures;
      if (!keep_dir.empty()) {
        const fs::path keep = fs::path(keep_dir) / (c.entry + "_" + CaseTypeName(c.type) + "_" + std::to_string(seed) +
                                                    "_" + std::to_string(index));
        fs::create_directories(keep);
        fs::copy_file(model_file, keep / "model.tflite", fs::copy_options::overwrite_existing);
        for (size_t k = 0; k < input_files.size(); ++k) {
          fs::copy_file(input_files[k], keep / fs::path(input_files[k]).filename(), fs::copy_options::overwrite_existing);
        }
        std::ofstream(keep / ("failure_" + ModeName(mode) + ".txt"))
            << c.Describe() << "mode " << ModeName(mode) << ": " << outcome << "\n" << detail << "\n";
      }
      if (failures_reported < kMaxReports && reported_per_key[key]++ < kMaxReportsPerKey) {
        ++failures_reported;
        ADD_FAILURE() << outcome << " in mode " << ModeName(mode) << " (TFLite ran: " << KernelsString(kernels)
                      << ")\n"
                      << c.Describe() << "  " << detail << "\n  reproduce: " << reproduce;
      }
    }
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);

  // The summary: one row per (op, dtype, mode).
  std::printf("\nsingle-op differential test: seed %" PRIu64 ", cases %" PRId64 "..%" PRId64 "\n", seed, first,
              first + num_cases - 1);
  std::printf("%-18s %-7s %-7s %6s %6s %6s %8s %8s %8s %7s %8s\n", "op", "dtype", "mode", "cases", "exact", "float~",
              "mismatch", "not-cov", "tfl-refd", "q-error", "xnn-took");
  Counts total;
  for (const auto& entry : testing::SingleOpTable()) {
    for (const auto& [key, n] : counts) {
      if (std::get<0>(key) != entry.name) continue;
      std::printf("%-18s %-7s %-7s %6" PRId64 " %6" PRId64 " %6" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64
                  " %7" PRId64 " %8" PRId64 "\n",
                  std::get<0>(key).c_str(), std::get<1>(key).c_str(), std::get<2>(key).c_str(), n.cases, n.exact,
                  n.float_rounding, n.mismatched, n.not_covered, n.tflite_refused, n.qaudit_error, n.xnnpack_took);
      total.cases += n.cases, total.exact += n.exact, total.float_rounding += n.float_rounding;
      total.mismatched += n.mismatched, total.not_covered += n.not_covered, total.tflite_refused += n.tflite_refused;
      total.qaudit_error += n.qaudit_error, total.xnnpack_took += n.xnnpack_took;
    }
  }
  std::printf("%-18s %-7s %-7s %6" PRId64 " %6" PRId64 " %6" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64 " %7" PRId64
              " %8" PRId64 "\n",
              "TOTAL", "", "", total.cases, total.exact, total.float_rounding, total.mismatched, total.not_covered,
              total.tflite_refused, total.qaudit_error, total.xnnpack_took);
  std::printf("\nfloat outputs that differ by rounding only (max over cases):\n");
  for (const auto& [key, n] : counts) {
    if (n.float_rounding == 0) continue;
    std::printf("  %-18s %-7s %-7s %5" PRId64 " cases  max %" PRId64 " ULP  max |diff|/max|out| %.3g\n",
                std::get<0>(key).c_str(), std::get<1>(key).c_str(), std::get<2>(key).c_str(), n.float_rounding,
                n.max_ulp, n.max_rel);
  }
  std::printf("\nwhy cases were not covered or refused:\n");
  for (const auto& [key, n] : counts) {
    for (const auto& [reason, count] : n.reasons) {
      std::printf("  %-18s %-7s %-7s %5d  %s\n", std::get<0>(key).c_str(), std::get<1>(key).c_str(),
                  std::get<2>(key).c_str(), count, reason.c_str());
    }
  }
  std::fflush(stdout);
  EXPECT_EQ(failures, 0) << "cases failed (mismatch, TFLite refusal or qaudit error); " << failures_reported
                         << " of them are reported above";
}

// TFLite's XNNPACK delegate decides node by node which nodes it takes, but some nodes it
// takes make XNNPACK fail to build its runtime (a quantized fused activation whose range
// is empty in XNNPACK's quantization, min >= max); TFLite then restores its own kernels for
// the whole graph. Measured with this two-ADD graph: with a normal second ADD the oracle
// reports "TfLiteXNNPackDelegate x1"; with an empty-range second ADD, "ADD x2" (a node the
// delegate merely declines, e.g. a scale ratio >= 256, leaves the others delegated).
// The first ADD's output is also a graph output, and its scales make XNNPACK's ADD (ties
// toward +infinity) and TFLite's (ties away from zero) differ on negative ties.
TEST_F(SingleOpOracleTest, XnnpackRuntimeFailureOnOneNodeAppliesToWholeGraph) {
  ASSERT_NE(oracle_, nullptr);
  const fs::path dir = fs::temp_directory_path() / ("qaudit_single_op_graph_" + std::to_string(getpid()));
  fs::create_directories(dir);
  for (bool empty_range : {false, true}) {
    SCOPED_TRACE(empty_range ? "second ADD with an empty XNNPACK range" : "second ADD normal");
    Graph g;
    auto tensor = [&](const char* name, float scale, int64_t zp) {
      Tensor t;
      t.name = name;
      t.dtype = DType::kInt8;
      t.shape = {1, 8};
      t.quant.scale = {scale};
      t.quant.zero_point = {zp};
      g.tensors.push_back(t);
      return static_cast<int>(g.tensors.size()) - 1;
    };
    const int a = tensor("a", 0.25f, 0), b = tensor("b", 0.25f, 0), c = tensor("c", 0.5f, 0);
    const int mid = tensor("mid", 0.5f, 0);  // a + b halves: odd sums are exact .5 ties
    // RELU6 into scale 10, zero point 127: XNNPACK's range is [127, 127].
    const int out = empty_range ? tensor("out", 10.0f, 127) : tensor("out", 0.5f, 0);
    g.inputs = {a, b, c};
    g.outputs = {mid, out};
    ElementwiseOptions plain;
    plain.pot_scale_int16 = false;
    ElementwiseOptions relu6 = plain;
    relu6.activation = Activation::kRelu6;
    g.operators.push_back({OpKind::kAdd, {a, b}, {mid}, plain, 1});
    g.operators.push_back({OpKind::kAdd, {mid, c}, {out}, relu6, 1});
    const std::string model = (dir / "graph.tflite").string();
    ASSERT_TRUE(WriteTfliteFile(g, model).ok());
    const std::vector<std::vector<int8_t>> values = {{-3, -1, 1, 3, -5, 5, -7, 0}, {0, 0, 0, 0, 0, 0, 0, 0},
                                                     {1, 2, 3, 4, 5, 6, 7, 8}};
    std::vector<HostTensor> inputs;
    std::vector<std::string> files;
    for (size_t k = 0; k < values.size(); ++k) {
      HostTensor h;
      h.dtype = DType::kInt8;
      h.shape = {1, 8};
      h.bytes.assign(values[k].begin(), values[k].end());
      inputs.push_back(h);
      files.push_back((dir / ("in" + std::to_string(k) + ".npy")).string());
      ASSERT_TRUE(WriteNpy(files.back(), h).ok());
    }
    auto reply = oracle_->Run(model, files, (dir / "out").string(), /*xnnpack=*/true);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    ASSERT_TRUE(reply->ok) << reply->error;
    const bool delegated = reply->executed_kernels.count("TfLiteXNNPackDelegate") > 0;
    EXPECT_EQ(delegated, !empty_range) << "TFLite ran: " << KernelsString(reply->executed_kernels);
    auto executor = Executor::Create(g, {Numerics::kXnnpack, 1});
    ASSERT_TRUE(executor.ok()) << executor.status().message();
    auto ours = (*executor)->Run(inputs);
    ASSERT_TRUE(ours.ok()) << ours.status().message();
    for (size_t k = 0; k < ours->size(); ++k) {
      auto theirs = ReadNpy(reply->outputs[k].file);
      ASSERT_TRUE(theirs.ok()) << theirs.status().message();
      const Comparison cmp = Compare(*theirs, (*ours)[k]);
      EXPECT_EQ(cmp.differing, 0) << "output " << k << " ('" << g.tensors[g.outputs[k]].name << "'): first at "
                                  << cmp.first << ": TFLite " << cmp.first_expected << ", qaudit " << cmp.first_got
                                  << " (TFLite ran: " << KernelsString(reply->executed_kernels) << ")";
    }
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace qaudit
