// Charts as data: what a kind's chart hook (spec/kind.h) returns and
// report/svg_chart renders. No drawing here.
#ifndef LADLE_SPEC_CHART_H_
#define LADLE_SPEC_CHART_H_

#include <string>
#include <variant>
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

// One figure of a kind's charts, with the size to draw it at.
struct Chart {
  std::variant<LineChart, BarChart> figure;
  int width = 720, height = 420;
};

}  // namespace ladle

#endif  // LADLE_SPEC_CHART_H_
