// The HTML report's plots as inline SVG. Each plot is an <svg> with an id and the class
// "plot" (plus one naming its kind), or, when there is nothing to draw, a
// <p class="no-data"> with the same id, so that a page always has one element per plot.
#ifndef QAUDIT_SRC_REPORT_PLOTS_H_
#define QAUDIT_SRC_REPORT_PLOTS_H_

#include <string>
#include <vector>

#include "qaudit/audit.h"

namespace qaudit::report::internal {

// id "calibration-plot-M" (M the model's index in report.models), class
// "plot plot-calibration": top-1 against calibration-set size, one line per method with
// its interval band, the float model dashed. Drawn from the clean cells of the
// experiment that tries the most plain calibration sizes ("500", "all") on this model.
std::string CalibrationPlot(const audit::AuditReport& report, size_t model_index);

// id "layer-error-plot-D", class "plot plot-layer-error": rmse/scale per layer as
// horizontal bars, flagged layers in a second colour, the flag threshold as a line.
std::string LayerErrorPlot(const audit::LayerDiagnosis& diagnosis, size_t diagnosis_index);

// id "saturation-plot-D", class "plot plot-saturation": each layer's saturated share on
// calibration data next to that on deployment data.
std::string SaturationPlot(const audit::LayerDiagnosis& diagnosis, size_t diagnosis_index);

// About `target` round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 times a power
// of ten); a degenerate range is widened first. Exposed for tests.
std::vector<double> NiceTicks(double lo, double hi, int target);

}  // namespace qaudit::report::internal

#endif  // QAUDIT_SRC_REPORT_PLOTS_H_
