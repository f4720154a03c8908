// Charts as self-contained SVG text (no scripts, no external fonts or
// fetches), for `ladle plot` and the HTML report.
#ifndef LADLE_REPORT_SVG_CHART_H_
#define LADLE_REPORT_SVG_CHART_H_

#include <string>
#include <vector>

namespace ladle {

struct ChartSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // optional band (same length as x)
  bool dashed = false;
  bool markers = false;  // points instead of (or besides) a line
  bool line = true;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<ChartSeries> series;
  bool log_x = false;
};

struct Bar {
  std::string label;
  double value = 0, error = 0;  // error: ± half-height of the whisker
};

struct BarChart {
  std::string title, y_label;
  std::vector<Bar> bars;
};

// Axes with ticks and labels, a legend, one colour per series.
std::string RenderSvg(const LineChart& chart, int width = 720,
                      int height = 420);
std::string RenderSvg(const BarChart& chart, int width = 720, int height = 420);

// "<", "&", quotes escaped for XML/HTML text and attributes.
std::string EscapeXml(const std::string& s);

}  // namespace ladle

#endif  // LADLE_REPORT_SVG_CHART_H_
