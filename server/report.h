// Per-kind result tables: what `ladle results` prints under the job list, and
// what reports and plots build on. Pure domain code (no gRPC): the CLI feeds
// it the jobs of GetResults.
//
//   train   test accuracy mean ± std per configuration (sweep point without
//           train.seed), when seeds repeat
//   fusion  per sweep point and arm (narrow, fused at init, fused, self_fused,
//           wide_scratch): accuracy mean ± std over repeats, training FLOPs
//           with the narrow models counted, and FLOPs to a common target
//   ladling ingredients, best ingredient, uniform / greedy / interpolation
//           soups and the full-graph baseline: accuracy and wall time
#ifndef LADLE_SERVER_REPORT_H_
#define LADLE_SERVER_REPORT_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "server/store.h"

namespace ladle {

struct JobView {
  std::string id;
  std::string state;       // succeeded | failed | ...
  nlohmann::json params;   // the job's params (sweep point, role, repeat)
  nlohmann::json summary;  // the trial summary (null unless succeeded)
  std::vector<MetricPoint> metrics;  // the job's series (may be empty)
};

struct ReportTable {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // how to read it, caveats
};

// The kind's tables (none when nothing is to be summarised yet).
std::vector<ReportTable> KindReport(const std::string& kind,
                                    const std::vector<JobView>& jobs);

// {"title", "columns", "rows", "notes"} per table.
nlohmann::json ReportToJson(const std::vector<ReportTable>& tables);

// "0.8472 ± 0.0049" (sample std; "± -" for a single value).
std::string MeanStd(const std::vector<double>& values, int digits = 4);

}  // namespace ladle

#endif  // LADLE_SERVER_REPORT_H_
