// render_svg (see svg_chart.h).
#include "report/svg_chart.h"

#include "coding/printf_string.h"
#include "report/xml_text.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kvtier::report {
namespace {

constexpr double kWidth = 720, kHeight = 420, kLeft = 80, kRight = 170, kTop = 40, kBottom = 60;
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"};

constexpr auto escape = xml_escape;

std::string num(double v) { return printf_string("%.6g", v); }

// Axis labels: three significant digits are what a reader takes from a tick.
std::string tick(double v) { return printf_string("%.3g", v); }

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  void settle() {
    if (!std::isfinite(lo)) lo = 0, hi = 1;
    if (hi <= lo) hi = lo + 1;
  }
};

}  // namespace

std::string render_svg(const LineChart& c) {
  Range xr, yr;
  yr.add(0);  // y from zero: a ratio or a rate read against its origin
  for (const Series& s : c.series) {
    for (auto [x, y] : s.points) {
      xr.add(c.log_x ? std::log10(std::max(x, 1e-300)) : x);
      yr.add(y);
    }
  }
  xr.settle();
  yr.settle();
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + ((c.log_x ? std::log10(std::max(x, 1e-300)) : x) - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double y) { return kTop + ph - (y - yr.lo) / (yr.hi - yr.lo) * ph; };

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    num(kWidth) + "\" height=\"" + num(kHeight) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n<title>" + escape(c.title) + "</title>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num(kLeft) + "\" y=\"24\" font-size=\"15\">" + escape(c.title) + "</text>\n";
  svg += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
         "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // 5 ticks per axis
    double fx = xr.lo + (xr.hi - xr.lo) * i / 4, fy = yr.lo + (yr.hi - yr.lo) * i / 4;
    double xv = c.log_x ? std::pow(10.0, fx) : fx;
    svg += "<text x=\"" + num(kLeft + pw * i / 4) + "\" y=\"" + num(kTop + ph + 18) + "\" text-anchor=\"middle\">" + tick(xv) + "</text>\n";
    svg += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py(fy) + 4) + "\" text-anchor=\"end\">" + tick(fy) + "</text>\n";
  }
  svg += "<text x=\"" + num(kLeft + pw / 2) + "\" y=\"" + num(kHeight - 16) + "\" text-anchor=\"middle\">" +
         escape(c.x_label) + (c.log_x ? " (log scale)" : "") + "</text>\n";
  svg += "<text transform=\"translate(18 " + num(kTop + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         escape(c.y_label) + "</text>\n";
  for (std::size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const std::string color = kColors[i % std::size(kColors)];
    std::string line;
    for (auto [x, y] : s.points) line += num(px(x)) + "," + num(py(y)) + " ";
    if (s.points.size() > 1) {
      svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\" points=\"" + line + "\"/>\n";
    }
    for (auto [x, y] : s.points) {
      svg += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"2.5\" fill=\"" + color +
             "\" data-series=\"" + escape(s.name) + "\" data-x=\"" + num(x) + "\" data-y=\"" + num(y) + "\"/>\n";
    }
    const double ly = kTop + 14 + 18.0 * static_cast<double>(i);
    svg += "<rect x=\"" + num(kWidth - kRight + 14) + "\" y=\"" + num(ly - 9) + "\" width=\"12\" height=\"12\" fill=\"" + color + "\"/>";
    svg += "<text x=\"" + num(kWidth - kRight + 32) + "\" y=\"" + num(ly + 1) + "\">" + escape(s.name) + "</text>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace kvtier::report
