// Result tables and what they are built from: the jobs of an experiment as
// the CLI, the HTML report and tools see them (JobView), the typed trial
// summary they read, and the mean ± std helpers every kind's table uses.
// Pure domain code (no gRPC): the CLI feeds it the jobs of GetResults.
#ifndef LADLE_SPEC_RESULT_TABLE_H_
#define LADLE_SPEC_RESULT_TABLE_H_

#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "spec/metric.h"

namespace ladle {

struct JobView {
  std::string id;
  std::string state;       // succeeded | failed | ...
  nlohmann::json params;   // the job's params (sweep point, role, repeat)
  nlohmann::json summary;  // the trial summary (null unless succeeded)
  std::vector<MetricPoint> metrics;  // the job's series (may be empty)
  // A search's segment: its trial (-1: not a search job), rung, the job it
  // resumes and the metric the searcher got (NaN: none or not yet).
  int64_t trial = -1;
  int rung = 0;
  std::string resume_from;
  double search_value = std::numeric_limits<double>::quiet_NaN();
  std::string kind;                    // its job kind (train, command, ...)
  std::vector<std::string> artifacts;  // names of the artifacts it uploaded
};

// The keys of a trial's summary.json that ladle-train writes (train/trial.cc,
// soup.cc, dropcompute_schedule.cc) and the kinds' tables read, named once.
namespace summary_keys {
inline constexpr char kTestAccuracy[] = "test_accuracy";
inline constexpr char kValAccuracy[] = "val_accuracy";
inline constexpr char kFinalTrainLoss[] = "final_train_loss";
inline constexpr char kWallSeconds[] = "wall_seconds";
inline constexpr char kTrainFlops[] = "train_flops";
inline constexpr char kSteps[] = "steps";
inline constexpr char kDropCompute[] = "dropcompute";  // its section
inline constexpr char kSoups[] = "soups";  // soup jobs: scores per soup
// In the dropcompute section.
inline constexpr char kThresholdSeconds[] = "threshold_seconds";
inline constexpr char kDropRate[] = "drop_rate";
inline constexpr char kMeanStepSeconds[] = "mean_step_seconds";
inline constexpr char kMeasuredSpeedup[] = "measured_speedup";
inline constexpr char kPredictedSpeedup[] = "predicted_speedup";
}  // namespace summary_keys

// The numbers of a trial's summary.json (ladle-train's, soup's and fuse's
// alike) that tables, charts and the CLI read; NAN where the summary has
// none. Kinds with more (DropCompute, soups) read their own section on top.
struct TrialSummary {
  double test_accuracy = NAN;
  double val_accuracy = NAN;
  double final_train_loss = NAN;
  double wall_seconds = NAN;
  double train_flops = NAN;
  double steps = NAN;

  static TrialSummary Of(const nlohmann::json& summary);
};

struct ReportTable {
  std::string title;
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // how to read it, caveats
};

// {"title", "columns", "rows", "notes"} per table.
nlohmann::json ReportToJson(const std::vector<ReportTable>& tables);

// The number at `key` of a JSON object, or `fallback` (missing, not a
// number, not an object).
double JsonNumber(const nlohmann::json& j, const char* key,
                  double fallback = NAN);
inline double OrZero(double v) { return std::isnan(v) ? 0.0 : v; }

// Mean (NAN when empty) and sample standard deviation (0 below two values).
struct MeanAndStd {
  double mean = NAN, std = 0;
};
MeanAndStd Summarize(const std::vector<double>& values);
inline double Mean(const std::vector<double>& values) {
  return Summarize(values).mean;
}

// "0.8472 ± 0.0049" (sample std; "± -" for a single value; "-" for none).
std::string MeanStd(const std::vector<double>& values, int digits = 4);

// A job's sweep point as text: its params without the keys its planner added
// (`drop`), "(base)" when nothing is left.
std::string PointOf(const nlohmann::json& params,
                    std::initializer_list<const char*> drop);

}  // namespace ladle

#endif  // LADLE_SPEC_RESULT_TABLE_H_
