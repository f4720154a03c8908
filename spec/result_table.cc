#include "spec/result_table.h"

#include "absl/strings/str_format.h"

namespace ladle {

using Json = nlohmann::json;

TrialSummary TrialSummary::Of(const Json& s) {
  TrialSummary t;
  t.test_accuracy = JsonNumber(s, summary_keys::kTestAccuracy);
  t.val_accuracy = JsonNumber(s, summary_keys::kValAccuracy);
  t.final_train_loss = JsonNumber(s, summary_keys::kFinalTrainLoss);
  t.wall_seconds = JsonNumber(s, summary_keys::kWallSeconds);
  t.train_flops = JsonNumber(s, summary_keys::kTrainFlops);
  t.steps = JsonNumber(s, summary_keys::kSteps);
  return t;
}

double JsonNumber(const Json& j, const char* key, double fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

MeanAndStd Summarize(const std::vector<double>& values) {
  MeanAndStd r;
  if (values.empty()) return r;
  double s = 0;
  for (double x : values) s += x;
  r.mean = s / values.size();
  if (values.size() > 1) {
    double var = 0;
    for (double v : values) var += (v - r.mean) * (v - r.mean);
    r.std = std::sqrt(var / (values.size() - 1));
  }
  return r;
}

std::string MeanStd(const std::vector<double>& values, int digits) {
  if (values.empty()) return "-";
  const MeanAndStd s = Summarize(values);
  if (values.size() == 1) return absl::StrFormat("%.*f ± -", digits, s.mean);
  return absl::StrFormat("%.*f ± %.*f", digits, s.mean, digits, s.std);
}

std::string PointOf(const Json& params,
                    std::initializer_list<const char*> drop) {
  Json p = params.is_object() ? params : Json::object();
  for (const char* k : drop) p.erase(k);
  return p.empty() ? "(base)" : p.dump();
}

Json ReportToJson(const std::vector<ReportTable>& tables) {
  Json out = Json::array();
  for (const ReportTable& t : tables) {
    out.push_back({{"title", t.title},
                   {"columns", t.columns},
                   {"rows", t.rows},
                   {"notes", t.notes}});
  }
  return out;
}

}  // namespace ladle
