// A progress bar on stderr with rate and time left, drawn only when stderr is a terminal.
#ifndef QAUDIT_SRC_CLI_PROGRESS_H_
#define QAUDIT_SRC_CLI_PROGRESS_H_

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "qaudit/executor.h"

namespace qaudit::cli {

class ProgressBar {
 public:
  // `what` names the work ("calibrating"); `unit` the things counted ("samples").
  ProgressBar(std::string what, std::string unit, bool enabled = isatty(STDERR_FILENO))
      : what_(std::move(what)), unit_(std::move(unit)), enabled_(enabled), start_(Clock::now()) {}

  // `extra` is shown after the counts, e.g. "loss 0.4123".
  void Update(int64_t done, int64_t total, const std::string& extra = "") {
    if (!enabled_ || finished_) return;
    std::fprintf(stderr, "\r%s ", Line(done, total, extra).c_str());
    if (done >= total) {
      std::fprintf(stderr, "\n");
      finished_ = true;
    }
    std::fflush(stderr);
  }

  // The bar as text: what, bar, counts, rate, time left and `extra`.
  std::string Line(int64_t done, int64_t total, const std::string& extra = "") const {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = seconds > 0 ? done / seconds : 0.0;
    const double left = rate > 0 ? (total - done) / rate : 0.0;
    constexpr int kWidth = 30;
    const int filled = total > 0 ? static_cast<int>(kWidth * std::min(done, total) / total) : kWidth;
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%s [%s%s] %lld/%lld %s, %.*f/s, %s left%s%s", what_.c_str(),
                  std::string(filled, '#').c_str(), std::string(kWidth - filled, ' ').c_str(),
                  static_cast<long long>(done), static_cast<long long>(total), unit_.c_str(), rate < 10 ? 1 : 0, rate,
                  Duration(left).c_str(), extra.empty() ? "" : ", ", extra.c_str());
    return buf;
  }

  // Starts the clock again, for a bar reused for the next piece of work.
  void Restart(std::string what) {
    what_ = std::move(what);
    start_ = Clock::now();
    finished_ = false;
  }

  ProgressFn AsCallback() {
    return [this](int64_t done, int64_t total) { Update(done, total); };
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::string Duration(double seconds) {
    char buf[32];
    if (seconds < 60) {
      std::snprintf(buf, sizeof(buf), "%.0fs", seconds);
    } else {
      std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
    }
    return buf;
  }

  std::string what_, unit_;
  bool enabled_;
  bool finished_ = false;
  Clock::time_point start_;
};

}  // namespace qaudit::cli

#endif  // QAUDIT_SRC_CLI_PROGRESS_H_
