#include "client/output.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "absl/strings/str_format.h"
#include "proto/api_util.h"

namespace ladle {

std::string Counts(const v1::JobCounts& c) {
  return absl::StrFormat(
      "%d jobs: %d succeeded, %d running, %d queued, %d pending, %d failed, %d "
      "cancelled",
      c.total(), c.succeeded(), c.running(), c.queued(), c.pending(),
      c.failed(), c.cancelled());
}

void PrintTable(const ReportTable& t) {
  std::vector<size_t> width(t.columns.size(), 0);
  auto cells = [](const std::string& s) {  // display width: count code points
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (size_t c = 0; c < t.columns.size(); ++c) {
    width[c] = cells(t.columns[c]);
    for (const auto& row : t.rows)
      if (c < row.size()) width[c] = std::max(width[c], cells(row[c]));
  }
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size())
        out += std::string(width[c] - cells(row[c]) + 2, ' ');
    }
    std::cout << out << "\n";
  };
  std::cout << "\n" << t.title << "\n";
  line(t.columns);
  for (const auto& row : t.rows) line(row);
  for (const std::string& n : t.notes) std::cout << "  " << n << "\n";
}

void PrintCsv(const ReportTable& t) {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  auto line = [&](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c)
      std::cout << (c ? "," : "") << quote(row[c]);
    std::cout << "\n";
  };
  std::vector<std::string> header = {"table"};
  header.insert(header.end(), t.columns.begin(), t.columns.end());
  line(header);
  for (auto row : t.rows) {
    row.insert(row.begin(), t.title);
    line(row);
  }
}

namespace {

nlohmann::json ParseOr(const std::string& text, nlohmann::json fallback) {
  return text.empty() ? fallback : nlohmann::json::parse(text, nullptr, false);
}

nlohmann::ordered_json JobJson(const v1::JobResult& r) {
  nlohmann::ordered_json j = {
      {"id", r.job().id()},
      {"state", ApiStateName(r.job().state())},
      {"attempts", r.job().attempts()},
      {"worker", r.job().worker_id()},
      {"params", nlohmann::json::parse(r.job().params_json(), nullptr, false)},
      {"spec", nlohmann::json::parse(r.job().spec_json(), nullptr, false)},
      {"reason", r.job().reason()}};
  j["summary"] = ParseOr(r.job().summary_json(), nullptr);
  if (r.job().has_search()) {
    const v1::SearchSegment& s = r.job().search();
    // (NaN, no value, is null in JSON.)
    j["search"] = {
        {"trial", s.trial()},
        {"rung", s.rung()},
        {"resume_from", s.resume_from()},
        {"result_seq", s.result_seq()},
        {"value", std::isnan(s.value()) ? nlohmann::json(nullptr)
                                        : nlohmann::json(s.value())}};
  }
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& a : r.attempts()) {
    attempts.push_back({{"id", a.id()},
                        {"worker", a.worker_id()},
                        {"number", a.number()},
                        {"rank", a.rank()},
                        {"outcome", a.outcome()},
                        {"exit_code", a.exit_code()},
                        {"reason", a.reason()}});
  }
  j["attempt_log"] = attempts;
  nlohmann::json arts = nlohmann::json::array();
  for (const auto& a : r.artifacts()) {
    arts.push_back({{"name", a.name()},
                    {"sha256", a.sha256()},
                    {"size_bytes", a.size_bytes()}});
  }
  j["artifacts"] = arts;
  return j;
}

std::string CsvQuoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

nlohmann::ordered_json ResultsJson(const v1::ExperimentResults& res,
                                   const nlohmann::json& report) {
  nlohmann::ordered_json out;
  out["experiment"] = {{"id", res.experiment().id()},
                       {"name", res.experiment().name()},
                       {"state", ApiStateName(res.experiment().state())},
                       {"spec", res.experiment().spec()}};
  out["jobs"] = nlohmann::json::array();
  for (const auto& r : res.jobs()) out["jobs"].push_back(JobJson(r));
  out["report"] = report;
  return out;
}

void PrintJobList(const v1::ExperimentResults& res, bool csv) {
  if (csv) {
    std::cout << "job,state,attempts,params,test_accuracy,val_accuracy,final_"
                 "train_loss,wall_seconds\n";
  } else {
    std::cout << absl::StrFormat("%-26s %-10s %-3s %-44s %9s %9s %9s %8s\n",
                                 "job", "state", "try", "params", "test_acc",
                                 "val_acc", "loss", "seconds");
  }
  for (const auto& r : res.jobs()) {
    const TrialSummary s =
        TrialSummary::Of(ParseOr(r.job().summary_json(), nlohmann::json{}));
    auto num = [](double v) {
      return std::isnan(v) ? std::string("-") : absl::StrFormat("%.4f", v);
    };
    const std::string& params = r.job().params_json();
    if (csv) {
      std::cout << r.job().id() << "," << ApiStateName(r.job().state()) << ","
                << r.job().attempts() << "," << CsvQuoted(params) << ","
                << num(s.test_accuracy) << "," << num(s.val_accuracy) << ","
                << num(s.final_train_loss) << "," << num(s.wall_seconds)
                << "\n";
    } else {
      std::cout << absl::StrFormat(
          "%-26s %-10s %-3d %-44s %9s %9s %9s %8s\n", r.job().id(),
          ApiStateName(r.job().state()), r.job().attempts(), params,
          num(s.test_accuracy), num(s.val_accuracy), num(s.final_train_loss),
          num(s.wall_seconds));
    }
  }
}

}  // namespace ladle
