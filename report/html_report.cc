#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spec/kind.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

// "role=fused, lr=0.001" from the params without the seed keys.
std::string ConfigOf(const Json& params) {
  Json p = params.is_object() ? params : Json::object();
  for (const char* k : {"train.seed", "repeat"}) p.erase(k);
  if (p.empty()) return "(base)";
  std::string out;
  for (auto& [k, v] : p.items()) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", k, "=",
                    v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

// (x, y) of `metric` for a job, x per the option; one point per step.
std::vector<std::pair<double, double>> Curve(const JobView& j,
                                             const std::string& metric,
                                             const std::string& x) {
  std::map<int64_t, double> y, xs;
  const std::string xname = x == "epoch" ? "epoch" : "elapsed_seconds";
  for (const MetricPoint& p : j.metrics) {
    // A step may carry two values (the log window's and the epoch mean's,
    // logged in that order): the first is the curve's.
    if (p.name == metric) y.emplace(p.step, p.value);
    if (x != "step" && p.name == xname) xs[p.step] = p.value;
  }
  std::vector<std::pair<double, double>> out;
  for (const auto& [step, v] : y) {
    if (x == "step") {
      out.emplace_back(static_cast<double>(step), v);
    } else {
      // The x logged at this step, else the latest before it (x series are
      // monotone; a thinned fetch need not keep the same steps of both).
      auto it = xs.upper_bound(step);
      if (it != xs.begin()) out.emplace_back(std::prev(it)->second, v);
    }
  }
  return out;
}

std::string Table(const std::vector<std::string>& columns,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string h = "<table><tr>";
  for (const std::string& c : columns)
    absl::StrAppend(&h, "<th>", EscapeXml(c), "</th>");
  h += "</tr>";
  for (const auto& r : rows) {
    h += "<tr>";
    for (const std::string& c : r)
      absl::StrAppend(&h, "<td>", EscapeXml(c), "</td>");
    h += "</tr>";
  }
  return h + "</table>";
}

}  // namespace

absl::StatusOr<LineChart> MetricChart(const std::vector<JobView>& jobs,
                                      const CurveOptions& o) {
  if (o.x != "step" && o.x != "epoch" && o.x != "seconds") {
    return absl::InvalidArgumentError("--x: use step, epoch or seconds, got '" +
                                      o.x + "'");
  }
  LineChart chart;
  chart.title = o.metric;
  chart.x_label = o.x == "seconds" ? "seconds" : o.x;
  chart.y_label = o.metric;
  std::map<std::string, std::vector<const JobView*>> groups;
  for (const JobView& j : jobs)
    groups[o.by_config ? ConfigOf(j.params) : j.id].push_back(&j);
  for (const auto& [name, list] : groups) {
    std::vector<std::vector<std::pair<double, double>>> curves;
    for (const JobView* j : list) {
      auto c = Curve(*j, o.metric, o.x);
      if (!c.empty()) curves.push_back(std::move(c));
    }
    if (curves.empty()) continue;
    ChartSeries s;
    s.name = name;
    if (curves.size() == 1) {
      for (const auto& [x, y] : curves[0]) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
    } else {
      // Mean ± std over the runs at the points all of them have.
      const size_t n = std::min_element(curves.begin(), curves.end(),
                                        [](const auto& a, const auto& b) {
                                          return a.size() < b.size();
                                        })
                           ->size();
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> xs, ys;
        for (const auto& c : curves) {
          xs.push_back(c[i].first);
          ys.push_back(c[i].second);
        }
        const MeanAndStd y = Summarize(ys);
        s.x.push_back(Mean(xs));
        s.y.push_back(y.mean);
        s.lo.push_back(y.mean - y.std);
        s.hi.push_back(y.mean + y.std);
      }
      s.name += absl::StrFormat(" (n=%d)", curves.size());
    }
    chart.series.push_back(std::move(s));
  }
  if (chart.series.empty()) {
    return absl::NotFoundError("no job of this experiment recorded metric '" +
                               o.metric + "'");
  }
  return chart;
}

absl::StatusOr<LineChart> SearchChart(const std::vector<JobView>& jobs,
                                      const CurveOptions& o) {
  if (o.x != "step" && o.x != "epoch" && o.x != "seconds") {
    return absl::InvalidArgumentError("--x: use step, epoch or seconds, got '" +
                                      o.x + "'");
  }
  std::map<int64_t, std::vector<const JobView*>> trials;
  int top_rung = 0;
  for (const JobView& j : jobs) {
    if (j.trial < 0) continue;
    trials[j.trial].push_back(&j);
    top_rung = std::max(top_rung, j.rung);
  }
  LineChart chart;
  chart.title = o.metric + " of every trial";
  chart.x_label = o.x == "seconds" ? "seconds" : o.x;
  chart.y_label = o.metric;
  for (auto& [trial, segments] : trials) {
    std::sort(
        segments.begin(), segments.end(),
        [](const JobView* a, const JobView* b) { return a->rung < b->rung; });
    // A trial's segments continue each other (resumed): one line.
    ChartSeries s;
    for (const JobView* j : segments) {
      for (const auto& [x, y] : Curve(*j, o.metric, o.x)) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
    }
    if (s.x.empty()) continue;
    const JobView& last = *segments.back();
    std::string fate;
    if (last.state == "running" || last.state == "queued") {
      fate = absl::StrCat("running, rung ", last.rung);
    } else if (last.state == "failed") {
      fate = absl::StrCat("failed, rung ", last.rung);
    } else if (last.state == "cancelled") {
      fate = absl::StrCat("stopped early, rung ", last.rung);
    } else if (last.rung == top_rung && top_rung > 0) {
      fate = absl::StrCat("up to rung ", last.rung);
    } else if (top_rung > 0) {
      fate = absl::StrCat("stopped, rung ", last.rung);
    } else {
      fate = last.state;
    }
    s.name = absl::StrCat("trial ", trial, ": ", fate);
    // (Legend entries fit 26 characters.) Trials that went furthest stand
    // out; the ones left behind are dashed.
    s.dashed = top_rung > 0 && last.rung < top_rung;
    chart.series.push_back(std::move(s));
  }
  if (chart.series.empty()) {
    return absl::NotFoundError("no trial of this search recorded metric '" +
                               o.metric + "'");
  }
  return chart;
}

std::vector<std::string> KindChartsSvg(const ExperimentSpec& spec,
                                       const std::vector<JobView>& jobs) {
  std::vector<std::string> out;
  if (const ExperimentKind* k = FindKind(spec.kind)) {
    for (const Chart& chart : k->Charts(spec, jobs))
      out.push_back(RenderSvg(chart));
  }
  return out;
}

std::string RenderHtmlReport(const ExperimentInfo& e,
                             const std::vector<JobView>& jobs) {
  std::string h = absl::StrCat(
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Ladle — ",
      EscapeXml(e.name),
      "</title><style>body{font-family:sans-serif;margin:2em;"
      "max-width:1200px}table{border-collapse:collapse;margin:1em "
      "0}td,th{border:"
      "1px solid #ccc;padding:3px "
      "8px;font-size:13px;text-align:left}th{background:"
      "#f4f4f4}pre{background:#f8f8f8;padding:1em;overflow:auto}.chart{margin:"
      "1em 0}"
      "</style></head><body>");
  absl::StrAppend(&h, "<h1>", EscapeXml(e.name), "</h1><p>experiment <code>",
                  EscapeXml(e.id), "</code>, kind <b>", EscapeXml(e.kind),
                  "</b>, state <b>", EscapeXml(e.state), "</b>, ", jobs.size(),
                  " jobs</p>");
  const ExperimentKind* kind = FindKind(e.kind);
  const ExperimentSpec spec = SpecForTables(e.spec, e.kind);
  const std::vector<ReportTable> tables =
      kind != nullptr ? ExperimentTables(*kind, spec, jobs)
                      : std::vector<ReportTable>{};
  for (const ReportTable& t : tables) {
    absl::StrAppend(&h, "<h2>", EscapeXml(t.title), "</h2>",
                    Table(t.columns, t.rows));
    for (const std::string& n : t.notes)
      absl::StrAppend(&h, "<p><small>", EscapeXml(n), "</small></p>");
  }
  if (spec.has_search) {
    CurveOptions o;
    o.metric = spec.search.metric;
    if (absl::StatusOr<LineChart> c = SearchChart(jobs, o); c.ok()) {
      absl::StrAppend(&h, "<h2>Search</h2><div class=\"chart\">",
                      RenderSvg(*c, 900, 500), "</div>");
    }
  }
  const std::vector<std::string> kind_charts = KindChartsSvg(spec, jobs);
  if (!kind_charts.empty()) {
    h += "<h2>Charts</h2>";
    for (const std::string& svg : kind_charts)
      absl::StrAppend(&h, "<div class=\"chart\">", svg, "</div>");
  }
  h += "<h2>Training curves</h2>";
  for (const char* metric : {"val_accuracy", "train_loss"}) {
    CurveOptions o;
    o.metric = metric;
    absl::StatusOr<LineChart> c = MetricChart(jobs, o);
    if (c.ok())
      absl::StrAppend(&h, "<div class=\"chart\">", RenderSvg(*c), "</div>");
  }
  std::vector<std::vector<std::string>> rows;
  for (const JobView& j : jobs) {
    const TrialSummary s = TrialSummary::Of(j.summary);
    auto f = [](double v) {
      return std::isfinite(v) ? absl::StrFormat("%.4f", v) : std::string("-");
    };
    rows.push_back({j.id, j.state, j.params.dump(), f(s.test_accuracy),
                    f(s.val_accuracy), f(s.wall_seconds)});
  }
  absl::StrAppend(&h, "<h2>Jobs</h2>",
                  Table({"job", "state", "params", "test_accuracy",
                         "val_accuracy", "wall seconds"},
                        rows));
  absl::StrAppend(&h, "<h2>Spec</h2><pre>", EscapeXml(e.spec),
                  "</pre></body></html>\n");
  return h;
}

}  // namespace ladle
