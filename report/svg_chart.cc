#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ladle {
namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                   "#bcbd22", "#17becf"};

// "Nice" tick values covering [lo, hi].
std::vector<double> Ticks(double lo, double hi, int target = 6) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  }
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step)
    t.push_back(std::fabs(v) < 1e-12 * step ? 0.0 : v);
  return t;
}

std::string Num(double v) {
  if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3))
    return absl::StrFormat("%.2g", v);
  return absl::StrFormat("%.6g", v);
}

struct Frame {
  double x0, x1, y0, y1;            // data range
  double left, right, top, bottom;  // pixel box
  bool log_x;
  double X(double x) const {
    const double a = log_x ? std::log10(x) : x,
                 lo = log_x ? std::log10(x0) : x0,
                 hi = log_x ? std::log10(x1) : x1;
    return left + (hi > lo ? (a - lo) / (hi - lo) : 0.5) * (right - left);
  }
  double Y(double y) const {
    return bottom - (y1 > y0 ? (y - y0) / (y1 - y0) : 0.5) * (bottom - top);
  }
};

std::string Header(int w, int h, const std::string& title) {
  return absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\" "
      "class=\"ladle-chart\"><rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/><text x=\"%d\" y=\"20\" text-anchor=\"middle\" "
      "font-size=\"15\" font-weight=\"bold\">%s</text>",
      w, h, w, h, w / 2, EscapeXml(title));
}

void Axes(std::string* svg, const Frame& f, const std::vector<double>& xt,
          const std::vector<double>& yt, const std::string& xl,
          const std::string& yl, int w, int h) {
  absl::StrAppend(
      svg, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                           "height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>",
                           f.left, f.top, f.right - f.left, f.bottom - f.top));
  for (double t : yt) {
    const double y = f.Y(t);
    absl::StrAppend(
        svg, absl::StrFormat(
                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"#ddd\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                 f.left, y, f.right, y, f.left - 6, y + 4, Num(t)));
  }
  for (double t : xt) {
    const double x = f.X(t);
    absl::StrAppend(
        svg, absl::StrFormat(
                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"#eee\"/>"
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                 x, f.top, x, f.bottom, x, f.bottom + 16, Num(t)));
  }
  absl::StrAppend(
      svg, absl::StrFormat(
               "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>"
               "<text transform=\"translate(16,%.1f) rotate(-90)\" "
               "text-anchor=\"middle\">%s</text>",
               (f.left + f.right) / 2, h - 8, EscapeXml(xl),
               (f.top + f.bottom) / 2, EscapeXml(yl)));
  (void)w;
}

}  // namespace

std::string EscapeXml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

// The data range of a line chart, bands included, padded; a unit range when
// there is no finite point.
struct Range {
  double x0, x1, y0, y1;
};
Range DataRange(const LineChart& c) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0,
         y1 = -x0;
  for (const ChartSeries& s : c.series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (c.log_x && s.x[i] <= 0) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, i < s.lo.size() ? s.lo[i] : s.y[i]);
      y1 = std::max(y1, i < s.hi.size() ? s.hi[i] : s.y[i]);
    }
  }
  if (!std::isfinite(x0)) {
    x0 = 0;
    x1 = 1;
    y0 = 0;
    y1 = 1;
  }
  if (y1 == y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;
  if (x1 == x0) {
    x0 = c.log_x ? x0 / 2 : x0 - 1;
    x1 = c.log_x ? x1 * 2 : x1 + 1;
  }
  return {x0, x1, y0, y1};
}

// One series: its band, line and markers (with whiskers for short series).
void DrawSeries(std::string* out, const Frame& f, const ChartSeries& s,
                const char* color) {
  std::string& svg = *out;
  if (!s.lo.empty() && s.lo.size() == s.x.size()) {
    std::string pts;
    for (size_t i = 0; i < s.x.size(); ++i)
      absl::StrAppend(&pts,
                      absl::StrFormat("%.1f,%.1f ", f.X(s.x[i]), f.Y(s.hi[i])));
    for (size_t i = s.x.size(); i-- > 0;)
      absl::StrAppend(&pts,
                      absl::StrFormat("%.1f,%.1f ", f.X(s.x[i]), f.Y(s.lo[i])));
    absl::StrAppend(&svg,
                    absl::StrFormat("<polygon points=\"%s\" fill=\"%s\" "
                                    "fill-opacity=\"0.18\" stroke=\"none\"/>",
                                    pts, color));
  }
  if (s.line && s.x.size() > 1) {
    std::string pts;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      absl::StrAppend(&pts,
                      absl::StrFormat("%.1f,%.1f ", f.X(s.x[i]), f.Y(s.y[i])));
    }
    absl::StrAppend(
        &svg, absl::StrFormat("<polyline points=\"%s\" fill=\"none\" "
                              "stroke=\"%s\" stroke-width=\"1.8\"%s/>",
                              pts, color,
                              s.dashed ? " stroke-dasharray=\"6,4\"" : ""));
  }
  if (s.markers || s.x.size() == 1) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      if (i < s.lo.size() && s.lo.size() == s.x.size() && s.x.size() <= 50) {
        absl::StrAppend(
            &svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                                  "y2=\"%.1f\" stroke=\"%s\"/>",
                                  f.X(s.x[i]), f.Y(s.lo[i]), f.X(s.x[i]),
                                  f.Y(s.hi[i]), color));
      }
      absl::StrAppend(
          &svg, absl::StrFormat(
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>",
                    f.X(s.x[i]), f.Y(s.y[i]), color));
    }
  }
}

}  // namespace

std::string RenderSvg(const LineChart& c, int w, int h) {
  const Range r = DataRange(c);
  const int legend_w = 240;
  Frame f{r.x0, r.x1,           r.y0,   r.y1, 70.0, double(w - legend_w),
          34.0, double(h - 44), c.log_x};
  std::vector<double> xt;
  if (c.log_x) {
    for (double v = std::pow(10, std::floor(std::log10(r.x0)));
         v <= r.x1 * 1.0001; v *= 2)
      if (v >= r.x0 * 0.9999) xt.push_back(v);
  } else {
    xt = Ticks(r.x0, r.x1);
  }
  std::string svg = Header(w, h, c.title);
  Axes(&svg, f, xt, Ticks(r.y0, r.y1), c.x_label, c.y_label, w, h);
  for (size_t si = 0; si < c.series.size(); ++si) {
    const ChartSeries& s = c.series[si];
    const char* color = kColors[si % (sizeof(kColors) / sizeof(kColors[0]))];
    DrawSeries(&svg, f, s, color);
    const double ly = 44 + 18.0 * si;
    absl::StrAppend(
        &svg,
        absl::StrFormat(
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"3\"%s/><text x=\"%d\" y=\"%.1f\" "
            "class=\"legend\">%s</text>",
            w - legend_w + 12, ly, w - legend_w + 36, ly, color,
            s.dashed ? " stroke-dasharray=\"6,4\"" : "", w - legend_w + 42,
            ly + 4,
            EscapeXml(s.name.size() > 26 ? s.name.substr(0, 25) + "…"
                                         : s.name)));
  }
  svg += "</svg>";
  return svg;
}

std::string RenderSvg(const BarChart& c, int w, int h) {
  double y0 = 0, y1 = 0;
  bool first = true;
  for (const Bar& b : c.bars) {
    const double lo = b.value - b.error, hi = b.value + b.error;
    y0 = first ? lo : std::min(y0, lo);
    y1 = first ? hi : std::max(y1, hi);
    first = false;
  }
  // Accuracies sit close together: zoom on their range rather than from 0.
  const double span = std::max(y1 - y0, 1e-6);
  y0 -= 0.25 * span;
  y1 += 0.15 * span;
  Frame f{0, 1, y0, y1, 70.0, double(w - 20), 34.0, double(h - 70), false};
  std::string svg = Header(w, h, c.title);
  Axes(&svg, f, {}, Ticks(y0, y1), "", c.y_label, w, h);
  const double slot = (f.right - f.left) / std::max<size_t>(1, c.bars.size());
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const Bar& b = c.bars[i];
    const char* color = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    const double cx = f.left + slot * (i + 0.5), bw = slot * 0.6;
    absl::StrAppend(
        &svg,
        absl::StrFormat(
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"%s\" "
            "fill-opacity=\"0.8\"/><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\" stroke=\"black\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\">%s</text><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\" font-size=\"10\">%s</text>",
            cx - bw / 2, f.Y(b.value), bw, f.bottom - f.Y(b.value), color, cx,
            f.Y(b.value - b.error), cx, f.Y(b.value + b.error), cx,
            f.bottom + 16, EscapeXml(b.label), cx, f.Y(b.value + b.error) - 4,
            Num(b.value)));
  }
  svg += "</svg>";
  return svg;
}

std::string RenderSvg(const Chart& chart) {
  return std::visit(
      [&](const auto& figure) {
        return RenderSvg(figure, chart.width, chart.height);
      },
      chart.figure);
}

}  // namespace ladle
