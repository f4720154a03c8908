#include "proto/result_views.h"

#include "proto/api_util.h"

namespace ladle {

std::vector<JobView> JobViews(const v1::ExperimentResults& res) {
  std::vector<JobView> views;
  for (const auto& r : res.jobs()) {
    JobView v;
    v.id = r.job().id();
    v.state = ApiStateName(r.job().state());
    v.params = nlohmann::json::parse(r.job().params_json(), nullptr, false);
    if (!r.job().summary_json().empty())
      v.summary = nlohmann::json::parse(r.job().summary_json(), nullptr, false);
    for (const auto& m : r.metrics()) {
      v.metrics.push_back({m.job_id(), m.attempt_id(), m.step(), m.name(),
                           m.value(), m.unix_ms()});
    }
    v.kind = r.job().kind();
    for (const auto& a : r.artifacts()) v.artifacts.push_back(a.name());
    if (r.job().has_search()) {
      const v1::SearchSegment& s = r.job().search();
      v.trial = s.trial();
      v.rung = s.rung();
      v.resume_from = s.resume_from();
      if (s.result_seq() >= 0) v.search_value = s.value();
    }
    views.push_back(std::move(v));
  }
  return views;
}

void FillTables(const std::vector<ReportTable>& tables,
                google::protobuf::RepeatedPtrField<v1::ResultTable>* out) {
  for (const ReportTable& t : tables) {
    v1::ResultTable* o = out->Add();
    o->set_title(t.title);
    for (const std::string& c : t.columns) o->add_columns(c);
    for (const auto& row : t.rows) {
      v1::ResultTable::Row* r = o->add_rows();
      for (const std::string& cell : row) r->add_cells(cell);
    }
    for (const std::string& n : t.notes) o->add_notes(n);
  }
}

}  // namespace ladle
