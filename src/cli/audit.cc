// qaudit audit: every quantization method on the user's model and data, against TFLite's
// documented claims; reports in DIR.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/cli.h"
#include "cli/progress.h"
#include "qaudit/audit.h"
#include "qaudit/report.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit audit --model FLOAT.tflite [--model ...] --data DATA --out DIR [options]

Quantizes the float model by every TFLite method (dynamic range, int8 with each calibrator,
float16, 16x8, and QAT when training data is given), under calibration sets of different
size and make-up, evaluates each on clean and shifted deployment data in TFLite's and
XNNPACK's integer numerics, and judges TFLite's documented claims (4x smaller, 3x+ faster,
100-500 samples suffice, QAT loses least, ...) with 95% paired-bootstrap intervals and
McNemar tests. A per-layer debugger and selective quantization run on one method per model.

Writes DIR/report.json (every number, the plan, seeds, data hashes and versions),
DIR/report.md and DIR/report.html (self-contained, with plots), and prints the claims
verdicts and the report's path.

options:
  --model [LABEL=]FILE  a float .tflite classifier (repeat for several models; the label
                        defaults to the file name without .tflite)
  --data DATA           labelled evaluation data, e.g. fmnist:test (forms as in
                        `qaudit quantize --help`)
  --train-data DATA     labelled training data: the calibration pool is drawn from it and
                        QAT trains on it. Without it, a random half of --data calibrates,
                        the other half evaluates, and QAT is skipped.
  --plan PLAN.json      the experiment plan (default: the built-in plan; see --print-plan)
  --print-plan          print the built-in plan as JSON and exit (a starting point to edit)
  --out DIR             where the reports go (created if missing)
  --preprocess SPEC     how stored values become model inputs (see `qaudit quantize --help`)
  --seed S              the plan's seed (calibration draws, shifts, bootstrap): the same
                        seed gives the same numbers in report.json, timings aside
  --jobs N              quantize-and-evaluate jobs run side by side (default 1)
  --threads N           threads per job (default: hardware threads / jobs)
  --quiet               no progress (bars on a terminal, one line per plan step otherwise)

The plan (JSON) crosses, per experiment: methods ("dynamic", "float16",
"int8/CALIBRATOR[/per-tensor]", "int16x8/CALIBRATOR", "qat[/steps=N][/decay=D][/init=tfmot]"),
calibration sets (a size, "all", or {"size": 500, "outliers": 3, "classes": [0, 1]}),
deployment variants (clean, outlier-pixels, brightness-contrast, noise, long-tail) and
numerics (tflite, xnnpack). For shifted variants the float model is also run on input
clamped to the int8 model's input range: int8 input saturation alone can look like
robustness.

Verdicts: a claim holds when the whole 95% interval of the measured figure meets it,
fails when the whole interval misses it, and is inconclusive otherwise. The registry of
claims, with sources and the conditions they apply under, is claims/claims.json.

exit status: 0 done, 2 bad input (names the file, field or value), 1 internal error.
)HELP";

// Two bars on stderr when it is a terminal: the plan, and the piece of work running now.
// Otherwise (a log file, CI) one line per finished plan step with its time.
class AuditProgressBars {
 public:
  AuditProgressBars(bool enabled, bool log_lines)
      : enabled_(enabled), log_lines_(log_lines), plan_("plan", "steps", enabled), cell_("", "", enabled) {}

  void Plan(const std::string& what, int64_t done, int64_t total) {
    if (log_lines_ && done > 0) {
      const auto now = std::chrono::steady_clock::now();
      std::fprintf(stderr, "[%lld/%lld] %s (%.1f s)\n", static_cast<long long>(done), static_cast<long long>(total),
                   what.c_str(), std::chrono::duration<double>(now - last_step_).count());
      last_step_ = now;
    }
    plan_done_ = done;
    plan_total_ = total;
    last_ = what;
    Draw();
  }

  void Cell(const std::string& what, int64_t done, int64_t total) {
    if (what != cell_what_) {
      cell_what_ = what;
      cell_.Restart(what);
    }
    cell_done_ = done;
    cell_total_ = total;
    Draw();
  }

  void Finish() {
    if (enabled_ && drawn_) std::fprintf(stderr, "\n\n");
  }

 private:
  void Draw() {
    if (!enabled_) return;
    std::fprintf(stderr, "%s\r\x1b[2K%s\n\x1b[2K  %s\r", drawn_ ? "\x1b[1A" : "",
                 plan_.Line(plan_done_, plan_total_, "last: " + last_).c_str(),
                 cell_what_.empty() ? "" : cell_.Line(cell_done_, cell_total_).c_str());
    drawn_ = true;
    std::fflush(stderr);
  }

  bool enabled_, log_lines_;
  std::chrono::steady_clock::time_point last_step_ = std::chrono::steady_clock::now();
  bool drawn_ = false;
  ProgressBar plan_, cell_;
  std::string last_, cell_what_;
  int64_t plan_done_ = 0, plan_total_ = 0, cell_done_ = 0, cell_total_ = 0;
};

std::string Stem(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  const size_t dot = name.rfind(".tflite");
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace

int Audit(int argc, char** argv) {
  constexpr const char* kCommand = "audit";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  if (args.Flag("--print-plan")) {
    std::printf("%s\n", audit::PlanToJson(audit::DefaultPlan()).c_str());
    return kExitOk;
  }
  audit::AuditInput input;
  for (const std::string& m : args.Values("--model")) {
    const size_t eq = m.find('=');
    if (eq != std::string::npos && m.find('/') > eq) {
      input.models.emplace_back(m.substr(0, eq), m.substr(eq + 1));
    } else {
      input.models.emplace_back(Stem(m), m);
    }
  }
  input.data_spec = args.Value("--data");
  input.train_data_spec = args.Value("--train-data");
  input.preprocess = args.Value("--preprocess");
  const std::string plan_path = args.Value("--plan");
  const std::string out = args.Value("--out");
  const std::string seed = args.Value("--seed");
  const std::string jobs = args.Value("--jobs", "1");
  const std::string threads = args.Value("--threads");
  const bool quiet = args.Flag("--quiet");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (!positionals->empty() || input.models.empty() || input.data_spec.empty() || out.empty()) {
    std::fputs("usage: qaudit audit --model FLOAT.tflite --data DATA --out DIR [options] (--help for more)\n", stderr);
    return kExitBadInput;
  }
  char* end = nullptr;
  input.jobs = static_cast<int>(std::strtol(jobs.c_str(), &end, 10));
  if (*end != '\0' || input.jobs < 1 || input.jobs > 64) {
    return Fail(kCommand, Status::InvalidArgument("--jobs '" + jobs + "': expected a whole number in [1, 64]"));
  }
  const int hardware = std::max(1u, std::thread::hardware_concurrency());
  input.threads_per_job = std::max(1, hardware / input.jobs);
  if (!threads.empty()) {
    input.threads_per_job = static_cast<int>(std::strtol(threads.c_str(), &end, 10));
    if (*end != '\0' || input.threads_per_job < 1 || input.threads_per_job > 256) {
      return Fail(kCommand, Status::InvalidArgument("--threads '" + threads + "': expected a whole number in [1, 256]"));
    }
  }
  for (int i = 0; i < argc; ++i) input.command += std::string(i ? " " : "") + argv[i];

  audit::Plan plan = audit::DefaultPlan();
  if (!plan_path.empty()) {
    std::ifstream in(plan_path);
    if (!in) return Fail(kCommand, Status::NotFound(plan_path + ": cannot open the plan"));
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = audit::ParsePlan(text.str());
    if (!parsed.ok()) return Fail(kCommand, Status::InvalidArgument(plan_path + ": " + parsed.status().message()));
    plan = std::move(*parsed);
  }
  if (!seed.empty()) {
    const unsigned long long value = std::strtoull(seed.c_str(), &end, 10);
    if (*end != '\0' || seed[0] == '-') {
      return Fail(kCommand, Status::InvalidArgument("--seed '" + seed + "': expected a whole number >= 0"));
    }
    plan.seed = value;
  }

  const bool terminal = isatty(STDERR_FILENO);
  AuditProgressBars bars(!quiet && terminal, !quiet && !terminal);
  auto report = audit::RunAudit(
      input, plan, [&](const std::string& what, int64_t done, int64_t total) { bars.Plan(what, done, total); },
      [&](const std::string& what, int64_t done, int64_t total) { bars.Cell(what, done, total); });
  bars.Finish();
  if (!report.ok()) return Fail(kCommand, report.status());
  const Status written = report::WriteReports(*report, out);
  if (!written.ok()) return Fail(kCommand, written);

  std::printf("claims (holds / fails / inconclusive over the settings measured):\n");
  std::vector<std::string> ids;
  for (const audit::ClaimVerdict& v : report->claims) {
    if (std::find(ids.begin(), ids.end(), v.claim_id) == ids.end()) ids.push_back(v.claim_id);
  }
  for (const std::string& id : ids) {
    int counts[4] = {0, 0, 0, 0};
    std::string claim;
    for (const audit::ClaimVerdict& v : report->claims) {
      if (v.claim_id != id) continue;
      ++counts[static_cast<int>(v.verdict)];
      claim = v.claim;
    }
    std::printf("  %-62.62s holds %2d  fails %2d  inconclusive %2d  not tested %2d\n", claim.c_str(), counts[0],
                counts[1], counts[2], counts[3]);
  }
  std::printf("findings:\n");
  for (const std::string& f : report->findings) std::printf("  - %s\n", f.c_str());
  std::printf("audit done in %.0f s; report: %s/report.html (also report.md, report.json)\n", report->seconds,
              out.c_str());
  return kExitOk;
}

}  // namespace qaudit::cli
