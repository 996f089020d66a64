// How `kvtier plan fleet`'s reports write numbers for people: dollars, counts, durations and
// ratios with three significant digits, the same in the terminal table and the HTML report (whose
// test compares the two).
#pragma once

#include <string>

namespace kvtier::plan {

// "$0.0184", "$184", "$12.3k", "$1.23M", "$4.56B".
std::string format_usd(double usd);
// A whole number with thousands separators: "43,403".
std::string format_count(double n);
// "45.0 s", "12.3 min", "3.40 h", "2.10 days".
std::string format_duration(double seconds);
// Three significant digits: "0.142", "1.25", "12.5".
std::string format_ratio(double r);
// kW with three significant digits, MW above 1,000 kW: "800 kW", "13.0 MW".
std::string format_power_kw(double kw);

}  // namespace kvtier::plan
