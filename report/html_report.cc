#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ladle {
namespace {

using Json = nlohmann::json;

double Num(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number()
             ? j[key].get<double>()
             : NAN;
}

void MeanStd(const std::vector<double>& v, double* mean, double* sd) {
  double m = 0;
  for (double x : v) m += x;
  m /= std::max<size_t>(1, v.size());
  double var = 0;
  for (double x : v) var += (x - m) * (x - m);
  *mean = m;
  *sd = v.size() > 1 ? std::sqrt(var / (v.size() - 1)) : 0.0;
}

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
        double mx, sx, my, sy;
        MeanStd(xs, &mx, &sx);
        MeanStd(ys, &my, &sy);
        s.x.push_back(mx);
        s.y.push_back(my);
        s.lo.push_back(my - sy);
        s.hi.push_back(my + sy);
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

std::vector<std::string> KindChartsSvg(const std::string& kind,
                                       const std::vector<JobView>& jobs) {
  std::vector<std::string> out;
  if (kind == "dropcompute") {
    // threshold -> ranks -> values
    std::map<std::string, std::map<int64_t, std::vector<double>>> meas, pred,
        acc, drop, tau;
    std::map<int64_t, double> none_step;
    struct Pending {  // timing real: speedup against the none runs
      std::string th;
      int64_t n;
      double drop, step;
    };
    std::vector<Pending> pending;
    for (const JobView& j : jobs) {
      if (j.state != "succeeded" || !j.summary.contains("dropcompute"))
        continue;
      const Json& d = j.summary["dropcompute"];
      const Json& t = j.params["threshold"];
      const std::string th = t.is_string() ? t.get<std::string>() : t.dump();
      const int64_t n = j.params.value("ranks", int64_t{0});
      if (th == "none") none_step[n] = Num(d, "mean_step_seconds");
      double m = Num(d, "measured_speedup");
      if (std::isnan(m))
        pending.push_back(
            {th, n, Num(d, "drop_rate"), Num(d, "mean_step_seconds")});
      if (!std::isnan(m)) meas[th][n].push_back(m);
      pred[th][n].push_back(Num(d, "predicted_speedup"));
      acc[th][n].push_back(Num(j.summary, "test_accuracy"));
      drop[th][n].push_back(Num(d, "drop_rate"));
      tau[th][n].push_back(Num(d, "threshold_seconds"));
    }
    for (const Pending& p : pending) {
      auto none = none_step.find(p.n);
      if (none != none_step.end() && p.step > 0)
        meas[p.th][p.n].push_back((1.0 - p.drop) * none->second / p.step);
    }
    LineChart speed{"DropCompute: effective speedup vs ranks",
                    "ranks N",
                    "speedup (kept samples per second, ×)",
                    {},
                    true};
    LineChart accuracy{"DropCompute: test accuracy vs ranks",
                       "ranks N",
                       "test accuracy",
                       {},
                       true};
    LineChart vs_tau{"DropCompute: speedup vs threshold τ",
                     "τ (seconds)",
                     "speedup (×)",
                     {},
                     false};
    for (const auto& [th, by_n] : meas) {
      ChartSeries m, p, a;
      m.name = th + " measured";
      p.name = th + " predicted";
      a.name = th;
      p.dashed = true;
      m.markers = a.markers = true;
      for (const auto& [n, v] : by_n) {
        double mean, sd;
        MeanStd(v, &mean, &sd);
        m.x.push_back(n);
        m.y.push_back(mean);
        MeanStd(pred[th][n], &mean, &sd);
        p.x.push_back(n);
        p.y.push_back(mean);
        MeanStd(acc[th][n], &mean, &sd);
        a.x.push_back(n);
        a.y.push_back(mean);
        a.lo.push_back(mean - sd);
        a.hi.push_back(mean + sd);
      }
      speed.series.push_back(m);
      if (th != "none") speed.series.push_back(p);
      accuracy.series.push_back(a);
    }
    std::map<int64_t, ChartSeries> tau_series, tau_pred;
    for (const auto& [th, by_n] : meas) {
      if (th == "none") continue;
      for (const auto& [n, v] : by_n) {
        double t, sd, mv, pv;
        MeanStd(tau[th][n], &t, &sd);
        MeanStd(v, &mv, &sd);
        MeanStd(pred[th][n], &pv, &sd);
        auto& s = tau_series[n];
        s.name = absl::StrCat("N=", n, " measured");
        s.markers = true;
        s.line = false;
        s.x.push_back(t);
        s.y.push_back(mv);
        auto& q = tau_pred[n];
        q.name = absl::StrCat("N=", n, " predicted");
        q.dashed = true;
        q.markers = true;
        q.line = false;
        q.x.push_back(t);
        q.y.push_back(pv);
      }
    }
    for (auto& [n, s] : tau_series) {
      vs_tau.series.push_back(s);
      vs_tau.series.push_back(tau_pred[n]);
    }
    if (!speed.series.empty()) {
      out.push_back(RenderSvg(speed));
      out.push_back(RenderSvg(accuracy));
      if (!vs_tau.series.empty()) out.push_back(RenderSvg(vs_tau));
    }
  } else if (kind == "ladling" || kind == "fusion") {
    for (const ReportTable& t : KindReport(kind, jobs)) {
      // Columns hold "mean ± std" text; parse them back for the chart.
      auto parse = [](const std::string& s, double* m, double* e) {
        *m = NAN;
        *e = 0;
        std::sscanf(s.c_str(), "%lf ± %lf", m, e);
      };
      if (kind == "ladling") {
        BarChart b{t.title + ": test accuracy", "test accuracy", {}};
        for (const auto& r : t.rows) {
          Bar bar;
          bar.label = r[0];
          parse(r[3], &bar.value, &bar.error);
          if (std::isfinite(bar.value)) b.bars.push_back(bar);
        }
        if (!b.bars.empty()) out.push_back(RenderSvg(b, 820, 420));
      } else {
        LineChart c{t.title + ": accuracy vs training FLOPs",
                    "training GFLOPs (narrow models counted)",
                    "test accuracy",
                    {},
                    false};
        for (const auto& r : t.rows) {
          double acc, acc_sd, gf, gf_sd;
          parse(r[2], &acc, &acc_sd);
          parse(r[4], &gf, &gf_sd);
          if (!std::isfinite(acc) || !std::isfinite(gf)) continue;
          ChartSeries s;
          s.name = r[0];
          s.x = {gf};
          s.y = {acc};
          s.lo = {acc - acc_sd};
          s.hi = {acc + acc_sd};
          s.markers = true;
          s.line = false;
          c.series.push_back(s);
        }
        if (!c.series.empty()) out.push_back(RenderSvg(c));
      }
    }
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
  for (const ReportTable& t : KindReport(e.kind, jobs)) {
    absl::StrAppend(&h, "<h2>", EscapeXml(t.title), "</h2>",
                    Table(t.columns, t.rows));
    for (const std::string& n : t.notes)
      absl::StrAppend(&h, "<p><small>", EscapeXml(n), "</small></p>");
  }
  const std::vector<std::string> kind_charts = KindChartsSvg(e.kind, jobs);
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
    auto f = [&](const char* k) {
      const double v = Num(j.summary, k);
      return std::isfinite(v) ? absl::StrFormat("%.4f", v) : std::string("-");
    };
    rows.push_back({j.id, j.state, j.params.dump(), f("test_accuracy"),
                    f("val_accuracy"), f("wall_seconds")});
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
