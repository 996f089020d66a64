// Line charts as standalone SVG files, written by our own few lines rather than a plotting
// dependency: `kvtier bench --charts` draws throughput over time, latency distributions and hit
// ratio versus cache size with it. Every point carries data-series / data-x / data-y attributes,
// so a test (or a script) reads the numbers back out of the file.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kvtier::report {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in the given order
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // x > 0 required for every point when set
  std::vector<Series> series;
};

// A complete SVG document (XML declaration, one <svg> root). Empty series are listed in the
// legend but draw nothing; a chart with no points at all still renders its axes.
std::string render_svg(const LineChart& chart);

}  // namespace kvtier::report
