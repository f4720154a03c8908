// Pictures of an experiment: metric curves (`ladle plot`) and a self-contained
// HTML report (`ladle report`): config, result tables, the kind's charts and
// training curves, all inline (SVG, CSS); no scripts, no network fetches.
#ifndef LADLE_REPORT_HTML_REPORT_H_
#define LADLE_REPORT_HTML_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "report/svg_chart.h"
#include "spec/experiment.h"
#include "spec/result_table.h"

namespace ladle {

struct CurveOptions {
  std::string metric = "val_accuracy";
  std::string x = "step";  // step | epoch | seconds
  // true: one mean ± std band per configuration (params without train.seed
  // and repeat) when seeds repeat; false: one line per job.
  bool by_config = true;
};

// INVALID_ARGUMENT for an unknown x; NOT_FOUND when no job has the metric.
absl::StatusOr<LineChart> MetricChart(const std::vector<JobView>& jobs,
                                      const CurveOptions& options);

// A search's trials (spec/search_table.h): one line per trial through all
// its segments (a promoted segment resumes where the last ended), named with
// its fate ("up to rung 2", "stopped, rung 0", "stopped early", "failed");
// trials left behind dashed. NOT_FOUND when no trial has the metric.
absl::StatusOr<LineChart> SearchChart(const std::vector<JobView>& jobs,
                                      const CurveOptions& options);

struct ExperimentInfo {
  std::string id, name, kind, state, spec;
};

// The kind's own charts (DropCompute: speedup and accuracy vs N and vs τ with
// the predicted curve; Ladling: ingredients vs soups vs baseline; Fusion:
// accuracy vs training FLOPs per arm). Empty for kinds without any.
std::vector<std::string> KindChartsSvg(const ExperimentSpec& spec,
                                       const std::vector<JobView>& jobs);

std::string RenderHtmlReport(const ExperimentInfo& experiment,
                             const std::vector<JobView>& jobs);

}  // namespace ladle

#endif  // LADLE_REPORT_HTML_REPORT_H_
