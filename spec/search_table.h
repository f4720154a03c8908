// What `ladle results` and `ladle report` show of a search (`search:`): a
// leaderboard of its trials and, for ASHA and Hyperband, the budget spent
// against what the same trials would have cost run to the full budget.
#ifndef LADLE_SPEC_SEARCH_TABLE_H_
#define LADLE_SPEC_SEARCH_TABLE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "spec/experiment.h"
#include "spec/result_table.h"

namespace ladle {

// The artifact a promoted segment of a `kind` job resumes from: a program's
// checkpoint.tar.gz, ladle-train's model.safetensors. A segment whose
// previous one left none starts over.
const char* ResumeArtifactName(absl::string_view kind);

// `spec.has_search`. Trials are ranked by the highest rung they reached, then
// by the metric there (values at different budgets do not compare); the
// leaderboard lists the best `top` of them.
std::vector<ReportTable> SearchTables(const ExperimentSpec& spec,
                                      const std::vector<JobView>& jobs,
                                      int top = 10);

}  // namespace ladle

#endif  // LADLE_SPEC_SEARCH_TABLE_H_
