// What the CLI prints: job counts, result tables (aligned text or CSV), the
// per-job list of `ladle results`, and the results as JSON.
#ifndef LADLE_CLIENT_OUTPUT_H_
#define LADLE_CLIENT_OUTPUT_H_

#include <string>
#include <vector>

#include "ladle/v1/experiments.pb.h"
#include "nlohmann/json.hpp"
#include "proto/result_views.h"
#include "spec/result_table.h"

namespace ladle {

// "6 jobs: 2 succeeded, 1 running, ..."
std::string Counts(const v1::JobCounts& c);

// A table with columns aligned (by code points), its title above and its
// notes below, on stdout.
void PrintTable(const ReportTable& t);
// A table as CSV on stdout: a first column with the table's title.
void PrintCsv(const ReportTable& t);
// One line per job: id, state, attempts, params, accuracies, loss, seconds.
void PrintJobList(const v1::ExperimentResults& res, bool csv);
// The experiment, its jobs (attempts, artifacts, summary) and `report`.
nlohmann::ordered_json ResultsJson(const v1::ExperimentResults& res,
                                   const nlohmann::json& report);

}  // namespace ladle

#endif  // LADLE_CLIENT_OUTPUT_H_
