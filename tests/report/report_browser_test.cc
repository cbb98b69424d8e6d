// report.html in a real browser: headless Chromium renders the synthetic report, and the
// test checks what a reader would see.
//
//  - The screenshot is not blank: many distinct colours, a good share of non-white
//    pixels, and the verdict colours of the claims table.
//  - The console stays silent. Chromium run with --enable-logging=stderr --v=0 writes
//    every console message (script errors, resource loads refused by the page's
//    Content-Security-Policy, failed loads) to stderr as a "...:CONSOLE..." line; the page
//    has no script and loads nothing, so any such line is a failure. Because a silent
//    stderr would also result if Chromium stopped logging that way, a known-bad page
//    (a script and an external image, both refused by the same policy) is rendered first
//    and must produce such lines.
//  - Every plot is in the DOM as Chromium parsed it (--dump-dom): the <svg> elements with
//    the plot ids, with their lines, and the note where there is nothing to plot.
//  - Each run is wrapped in `timeout --kill-after=5 60`; a separate case hangs Chromium on
//    purpose and checks that timeout kills it and every helper process it started.
//
// Chromium is a test dependency (scripts/install-deps.sh installs Debian's `chromium`);
// without it the tests fail, they do not skip.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "qaudit/data.h"
#include "qaudit/report.h"
#include "report/synthetic_report.h"

namespace qaudit::report {
namespace {

namespace fs = std::filesystem;

std::string FindChromium() {
  if (const char* env = std::getenv("QAUDIT_CHROMIUM"); env != nullptr && *env != '\0') return env;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return "";
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct BrowserRun {
  int exit_code = -1;  // 124: timeout killed the browser
  std::string out, err;
  double seconds = 0;
};

// One headless Chromium run with its own profile under `dir`, so that runs share nothing
// and the leftover-process check can find this run's processes by that path.
class Browser {
 public:
  Browser(std::string chromium, fs::path dir) : chromium_(std::move(chromium)), dir_(std::move(dir)) {}

  BrowserRun Run(const std::string& tag, const std::vector<std::string>& args, int timeout_seconds = 60) const {
    std::string command = "timeout --kill-after=5 " + std::to_string(timeout_seconds) + " " + Quote(chromium_) +
                          " --headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check"
                          " --disable-extensions --disable-background-networking --disable-component-update"
                          " --disable-sync --hide-scrollbars --user-data-dir=" +
                          Quote((dir_ / ("profile-" + tag)).string());
    for (const std::string& a : args) command += " " + Quote(a);
    const fs::path out = dir_ / (tag + ".out"), err = dir_ / (tag + ".err");
    command += " </dev/null >" + Quote(out.string()) + " 2>" + Quote(err.string());
    const auto start = std::chrono::steady_clock::now();
    const int status = std::system(command.c_str());
    BrowserRun run;
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    run.out = ReadText(out);
    run.err = ReadText(err);
    return run;
  }

  // Processes still running whose command line names this browser's directory.
  std::vector<pid_t> Leftovers() const {
    std::vector<pid_t> pids;
    const std::string marker = dir_.string();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = static_cast<pid_t>(std::stol(name));
      if (pid == ::getpid()) continue;
      const std::string cmdline = ReadText(entry.path() / "cmdline");
      if (cmdline.find(marker) != std::string::npos) pids.push_back(pid);
    }
    return pids;
  }

 private:
  std::string chromium_;
  fs::path dir_;
};

// Lines of Chromium's stderr that report something the page did: console messages (which
// include script errors and Content-Security-Policy refusals) and failed loads.
std::vector<std::string> ConsoleErrors(const std::string& stderr_text) {
  std::vector<std::string> lines;
  std::stringstream ss(stderr_text);
  for (std::string line; std::getline(ss, line);) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Refused to") != std::string::npos || line.find("Failed to load resource") != std::string::npos) {
      lines.push_back(line);
    }
  }
  return lines;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

class ReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    ASSERT_FALSE(chromium_.empty()) << "chromium not found on PATH (or $QAUDIT_CHROMIUM): run scripts/install-deps.sh, "
                                       "which installs Debian's chromium package";
    char templ[] = "/tmp/qaudit-browser-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    browser_ = std::make_unique<Browser>(chromium_, dir_);
  }

  void TearDown() override {
    if (browser_ != nullptr) {
      // Anything left is this test's own browser (found by its private directory).
      // Helpers may take a moment to exit after the main process.
      std::vector<pid_t> left = browser_->Leftovers();
      for (int i = 0; i < 50 && !left.empty(); ++i) {
        ::usleep(100 * 1000);
        left = browser_->Leftovers();
      }
      for (pid_t pid : left) ::kill(pid, SIGKILL);
      EXPECT_TRUE(left.empty()) << left.size() << " browser processes outlived their run";
    }
    std::error_code ec;
    if (!dir_.empty() && !::testing::Test::HasFailure()) fs::remove_all(dir_, ec);
  }

  std::string WritePage(const std::string& name, const std::string& html) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << html;
    return "file://" + path.string();
  }

  std::string chromium_;
  fs::path dir_;
  std::unique_ptr<Browser> browser_;
};

TEST_F(ReportBrowserTest, RendersWithoutConsoleErrorsAndShowsEveryPlot) {
  // The detector first: a page the policy must refuse has to show up on stderr.
  const std::string bad =
      WritePage("bad.html",
                "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                "style-src 'unsafe-inline'\"></head><body><p>bad</p><script>undefinedFunction();</script>"
                "<img src=\"https://example.invalid/x.png\"></body></html>");
  const BrowserRun bad_run = browser_->Run("bad", {"--enable-logging=stderr", "--v=0", "--dump-dom", bad});
  ASSERT_EQ(bad_run.exit_code, 0) << bad_run.err;
  EXPECT_FALSE(ConsoleErrors(bad_run.err).empty())
      << "Chromium no longer logs console messages to stderr; the console check below would pass vacuously:\n"
      << bad_run.err;

  const std::string page = WritePage("report.html", ReportHtml(testing::SyntheticReport()));
  const fs::path png = dir_ / "shot.png";
  const BrowserRun shot = browser_->Run(
      "shot", {"--enable-logging=stderr", "--v=0", "--screenshot=" + png.string(), "--window-size=1280,2000", page});
  ASSERT_EQ(shot.exit_code, 0) << (shot.exit_code == 124 ? "browser killed after 60 s\n" : "") << shot.err;
  EXPECT_LT(shot.seconds, 30);
  const std::vector<std::string> errors = ConsoleErrors(shot.err);
  EXPECT_TRUE(errors.empty()) << Join(errors);

  Result<HostTensor> image = ReadImage(png.string());
  ASSERT_TRUE(image.ok()) << image.status().message();
  ASSERT_EQ(image->shape.size(), 3u);
  const int64_t h = image->shape[0], w = image->shape[1], c = image->shape[2];
  EXPECT_EQ(w, 1280);
  EXPECT_EQ(h, 2000);
  ASSERT_EQ(c, 3);
  const uint8_t* px = image->data<uint8_t>();
  std::set<uint32_t> colours;
  int64_t non_white = 0;
  bool verdict_green = false, verdict_red = false;
  for (int64_t i = 0; i < h * w; ++i) {
    const uint8_t r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2];
    colours.insert(uint32_t{r} << 16 | uint32_t{g} << 8 | b);
    non_white += (r < 245 || g < 245 || b < 245);
    // The "holds" and "fails" pills' backgrounds (CSS --green-bg, --red-bg).
    verdict_green = verdict_green || (r == 0xda && g == 0xfb && b == 0xe1);
    verdict_red = verdict_red || (r == 0xff && g == 0xeb && b == 0xe9);
  }
  EXPECT_GT(colours.size(), 100u) << "the screenshot looks blank";
  EXPECT_GT(non_white, h * w / 50) << "the screenshot looks blank";
  EXPECT_TRUE(verdict_green && verdict_red) << "the claims table's verdict colours are not on screen";

  // The DOM as Chromium built it.
  const BrowserRun dom = browser_->Run("dom", {"--dump-dom", page});
  ASSERT_EQ(dom.exit_code, 0) << dom.err;
  std::set<std::string> plots;
  const std::regex svg_tag("<svg id=\"([^\"]+)\" class=\"plot [^\"]+\"");
  for (auto it = std::sregex_iterator(dom.out.begin(), dom.out.end(), svg_tag); it != std::sregex_iterator(); ++it) {
    plots.insert((*it)[1]);
  }
  EXPECT_EQ(plots, (std::set<std::string>{"calibration-plot-0", "layer-error-plot-0", "saturation-plot-0"}));
  EXPECT_NE(dom.out.find("<p id=\"calibration-plot-1\" class=\"no-data\">"), std::string::npos);
  const size_t calibration = dom.out.find("<svg id=\"calibration-plot-0\"");
  ASSERT_NE(calibration, std::string::npos);
  const std::string calibration_svg = dom.out.substr(calibration, dom.out.find("</svg>", calibration) - calibration);
  size_t lines = 0;
  for (size_t at = calibration_svg.find("<polyline"); at != std::string::npos;
       at = calibration_svg.find("<polyline", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u) << "one line per method";
  EXPECT_EQ(dom.out.find("<script"), std::string::npos);
  // The hostile label arrived as text.
  EXPECT_NE(dom.out.find("mlp&lt;script&gt;"), std::string::npos);
}

TEST_F(ReportBrowserTest, TimeoutKillsAHungBrowser) {
  // With a remote-debugging port open, headless Chromium waits for a client forever.
  const BrowserRun hung = browser_->Run("hung", {"--remote-debugging-port=0", "about:blank"}, 2);
  EXPECT_EQ(hung.exit_code, 124) << hung.err;
  EXPECT_LT(hung.seconds, 15);
  // TearDown checks that no process of this browser is left.
}

}  // namespace
}  // namespace qaudit::report
