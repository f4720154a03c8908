// Charts as self-contained SVG text (no scripts, no external fonts or
// fetches), for `ladle plot` and the HTML report.
#ifndef LADLE_REPORT_SVG_CHART_H_
#define LADLE_REPORT_SVG_CHART_H_

#include <string>

#include "spec/chart.h"

namespace ladle {

// Axes with ticks and labels, a legend, one colour per series.
std::string RenderSvg(const LineChart& chart, int width = 720,
                      int height = 420);
std::string RenderSvg(const BarChart& chart, int width = 720, int height = 420);
// Either figure of a kind's chart, at its size.
std::string RenderSvg(const Chart& chart);

// "<", "&", quotes escaped for XML/HTML text and attributes.
std::string EscapeXml(const std::string& s);

}  // namespace ladle

#endif  // LADLE_REPORT_SVG_CHART_H_
