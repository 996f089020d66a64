// render_fleet_html (fleet_report_html.h): one HTML page with inline CSS and SVG.
#include "plan/fleet_report_html.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "coding/printf_string.h"
#include "plan/fleet_format.h"
#include "plan/fleet_report_json.h"
#include "plan/fleet_report_text.h"
#include "plan/units.h"
#include "report/xml_text.h"

namespace kvtier::plan {
namespace {

constexpr auto escape = report::xml_escape;

std::string kind_color(ShapeKind k) {
  switch (k) {
    case ShapeKind::kVm: return "#2f6db5";
    case ShapeKind::kEnclosure: return "#2e8b57";
    case ShapeKind::kObject: return "#d9822b";
  }
  return "#777";
}

// <tag data-shape data-field data-value>text</tag>: a number the test can find.
std::string number(std::string_view tag, const std::string& shape, std::string_view field,
                   double value, const std::string& text) {
  return "<" + std::string(tag) + " class=\"num\" data-shape=\"" + escape(shape) +
         "\" data-field=\"" + std::string(field) + "\" data-value=\"" + json_number(value) + "\">" +
         escape(text) + "</" + std::string(tag) + ">";
}

std::string fixed(double v, int decimals) { return printf_string("%.*f", decimals, v); }

struct Chart {
  std::string title;
  std::string field;  // the JSON key the bars show
  std::function<double(const ShapePlan&)> value;
  std::function<std::string(double)> format;
};

// A horizontal bar chart: one bar per shape, its length proportional to the value (linear: a
// short bar is cheap or fast, not hidden by a log scale), the formatted value at its end.
std::string bar_chart(const FleetPlan& plan, const Chart& c) {
  constexpr int kLabel = 150, kBars = 430, kRow = 26, kTop = 6;
  double max = 0;
  for (const ShapePlan& p : plan.shapes) max = std::max(max, c.value(p));
  const int height = kTop * 2 + kRow * static_cast<int>(plan.shapes.size());
  std::string svg = "<figure class=\"chart\"><figcaption>" + escape(c.title) +
                    "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" "
                    "viewBox=\"0 0 " + std::to_string(kLabel + kBars + 110) + " " +
                    std::to_string(height) + "\" width=\"100%\" data-chart=\"" + c.field + "\">";
  int y = kTop;
  for (const ShapePlan& p : plan.shapes) {
    const double v = c.value(p);
    const double w = max > 0 ? std::max(1.0, v / max * kBars) : 1.0;
    svg += "<text x=\"" + std::to_string(kLabel - 8) + "\" y=\"" + std::to_string(y + 18) +
           "\" text-anchor=\"end\" class=\"label\">" + escape(p.name) + "</text>";
    svg += "<rect x=\"" + std::to_string(kLabel) + "\" y=\"" + std::to_string(y + 4) +
           "\" width=\"" + fixed(w, 1) + "\" height=\"" + std::to_string(kRow - 8) +
           "\" rx=\"2\" fill=\"" + kind_color(p.kind) + "\" data-shape=\"" + escape(p.name) +
           "\" data-field=\"" + c.field + "\" data-value=\"" + json_number(v) + "\"/>";
    svg += "<text x=\"" + fixed(kLabel + w + 6, 1) + "\" y=\"" + std::to_string(y + 18) +
           "\" class=\"value\">" + escape(c.format(v)) + "</text>";
    y += kRow;
  }
  return svg + "</svg></figure>\n";
}

std::string inputs_section(const FleetPlan& plan) {
  const FleetInputs& in = plan.inputs;
  auto item = [](const std::string& k, const std::string& field, double v, const std::string& text) {
    return "<div class=\"input\"><span class=\"k\">" + escape(k) + "</span>" +
           number("span", "inputs", field, v, text) + "</div>";
  };
  std::string s = "<section class=\"inputs\">";
  s += item("Capacity", "capacity_bytes", in.capacity_bytes,
            in.capacity_text + " = " + format_bytes(in.capacity_bytes));
  s += item("Data reduction", "reduction", in.reduction, format_ratio(in.reduction) + " : 1");
  s += item("Protection", "protection", in.protection,
            in.protection_text + " (x" + format_ratio(in.protection) + ")");
  s += item("Stored", "stored_bytes", plan.stored_bytes, format_bytes(plan.stored_bytes));
  s += item("Raw on drives", "raw_needed_bytes", plan.raw_needed_bytes,
            format_bytes(plan.raw_needed_bytes));
  s += in.bandwidth > 0 ? item("Required read bandwidth", "bandwidth_bytes_per_s", in.bandwidth,
                               format_bandwidth(in.bandwidth))
                        : "<div class=\"input\"><span class=\"k\">Required read bandwidth</span>"
                          "<span>none: sized by capacity</span></div>";
  return s + "</section>\n";
}

std::string optional_cell(const ShapePlan& p, std::string_view field,
                          const std::optional<double>& v,
                          const std::function<std::string(double)>& format) {
  return v ? number("td", p.name, field, *v, format(*v)) : "<td class=\"na\">&ndash;</td>";
}

std::string plan_table(const FleetPlan& plan) {
  std::string s =
      "<table class=\"plan\"><thead><tr><th>Shape</th><th>Units</th><th>Binds</th>"
      "<th>Bottleneck</th><th>Raw</th><th>Usable</th><th>Power</th><th>$/month</th>"
      "<th>$/TB-month</th><th>Read</th><th>Net : NVMe</th><th>Full read</th>"
      "</tr></thead><tbody>\n";
  for (const ShapePlan& p : plan.shapes) {
    s += "<tr data-shape=\"" + escape(p.name) + "\"><th><span class=\"dot\" style=\"background:" +
         kind_color(p.kind) + "\"></span>" + escape(p.title) + "<br><small>" + escape(p.name) +
         "</small></th>";
    s += "<td>" + number("span", p.name, "units", p.units, format_count(p.units)) + "<br><small>" +
         escape(p.unit_name) + (p.units == 1 ? "" : "s");
    if (p.racks) {
      s += " in " + number("span", p.name, "racks", *p.racks, format_count(*p.racks)) + " racks";
    }
    s += "</small>";
    s += "</td><td>" + escape(std::string(binding_name(p.binding))) + "</td><td>" +
         escape(p.bottleneck) + "</td>";
    s += optional_cell(p, "raw_bytes", p.raw_bytes, [](double v) { return format_bytes(v); });
    s += number("td", p.name, "usable_bytes", p.usable_bytes, format_bytes(p.usable_bytes));
    s += optional_cell(p, "facility_power_kw", p.facility_power_kw,
                       [](double v) { return format_power_kw(v); });
    s += number("td", p.name, "usd_per_month", p.usd_per_month, format_usd(p.usd_per_month));
    s += number("td", p.name, "usd_per_tb_month", p.usd_per_tb_month,
                format_usd(p.usd_per_tb_month));
    s += number("td", p.name, "read_bytes_per_s", p.read_bandwidth,
                format_bandwidth(p.read_bandwidth));
    s += optional_cell(p, "network_to_nvme_ratio", p.network_to_nvme_ratio,
                       [](double v) { return format_ratio(v); });
    s += number("td", p.name, "full_read_seconds", p.full_read_seconds,
                format_duration(p.full_read_seconds));
    s += "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

std::string figures_section(const ShapeCatalog& catalog) {
  std::string s = "<h2>Every figure, with its source</h2>\n<table class=\"figures\"><thead><tr>"
                  "<th>Shape</th><th>Figure</th><th>Value</th><th>Source</th><th>Recorded</th>"
                  "<th>Note</th></tr></thead><tbody>\n";
  auto rows = [&](const std::string& owner, const std::map<std::string, Figure>& figures) {
    for (const auto& [name, f] : figures) {
      auto src = catalog.sources.find(f.source);
      const std::string source = src == catalog.sources.end() ? f.source : src->second.title;
      const std::string cls = f.overridden ? "overridden" : f.assumption ? "assumption" : "";
      s += "<tr class=\"" + cls + "\"><td>" + escape(owner) + "</td><td>" + escape(name) +
           "</td><td>" + escape(f.text) + "</td><td>" + escape(source) +
           (f.overridden ? " <b>(--set)</b>" : f.assumption ? " <b>(assumption)</b>" : "") +
           "</td><td>" + escape(f.date) + "</td><td>" + escape(f.note) + "</td></tr>\n";
    }
  };
  rows("common", catalog.common);
  for (const Shape& shape : catalog.shapes) rows(shape.name, shape.figures);
  s += "</tbody></table>\n<h3>Sources</h3><ul class=\"sources\">";
  for (const auto& [key, src] : catalog.sources) {
    s += "<li><b>" + escape(key) + "</b>: " + escape(src.title) +
         (src.url.empty() ? "" : " &mdash; <span class=\"url\">" + escape(src.url) + "</span>") +
         "</li>";
  }
  return s + "</ul>\n";
}

constexpr std::string_view kStyle = R"(
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;color:#1d2733;margin:32px auto;
max-width:1180px;padding:0 24px;font-size:14px;line-height:1.45}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d5dbe3;
padding-bottom:4px}h3{font-size:15px}.sub{color:#5b6776;margin:0 0 16px}
.inputs{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.input{background:#f2f5f9;border-radius:6px;
padding:8px 12px}.input .k{display:block;color:#5b6776;font-size:12px}.input .num{font-weight:bold}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:8px 32px}
figure.chart{margin:0}figcaption{font-weight:bold;margin:8px 0 2px}
svg text{font-family:inherit;font-size:15px;fill:#1d2733}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{padding:5px 7px;border-bottom:1px solid #e3e7ed;
text-align:right;vertical-align:top}table.plan td,table.plan th{white-space:nowrap;font-size:13px;padding:5px 5px}
table.plan thead th:first-child{text-align:left}thead th{background:#f2f5f9;font-size:12px}tbody th{text-align:left;
font-weight:normal;white-space:nowrap}td.na{color:#9aa4b1}small{color:#5b6776}
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:6px}
table.figures td,table.figures th{text-align:left;font-size:12px}table.figures td:nth-child(-n+3),
table.figures td:nth-child(5){white-space:nowrap}tr.assumption td{background:#fff8e6}
tr.overridden td{background:#e9f4ff}.legend span{margin-right:16px}.url{color:#5b6776}
.note{color:#5b6776;font-size:12px}
)";

}  // namespace

std::string render_fleet_html(const FleetPlan& plan, const ShapeCatalog& catalog) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>kvtier plan fleet: " + escape(plan.inputs.capacity_text) +
                  "</title><style>" + std::string(kStyle) + "</style></head><body>\n";
  h += "<h1>What " + escape(plan.inputs.capacity_text) + " costs on each deployment shape</h1>\n"
       "<p class=\"sub\">kvtier plan fleet &middot; units are the larger of what the capacity and "
       "the required read bandwidth need; prices are list prices or marked assumptions (see the "
       "last table).</p>\n";
  h += inputs_section(plan);
  h += "<p class=\"legend\"><span><span class=\"dot\" style=\"background:" +
       kind_color(ShapeKind::kVm) + "\"></span>cloud VMs with local NVMe</span><span><span "
       "class=\"dot\" style=\"background:" + kind_color(ShapeKind::kEnclosure) +
       "\"></span>on-prem flash enclosures</span><span><span class=\"dot\" style=\"background:" +
       kind_color(ShapeKind::kObject) + "\"></span>object storage</span></p>\n";
  h += "<div class=\"charts\">\n";
  h += bar_chart(plan, {"Cost per month", "usd_per_month",
                        [](const ShapePlan& p) { return p.usd_per_month; }, format_usd});
  h += bar_chart(plan, {"Cost per TB-month of the capacity asked for", "usd_per_tb_month",
                        [](const ShapePlan& p) { return p.usd_per_tb_month; }, format_usd});
  h += bar_chart(plan, {"Units (VMs, enclosures, storage accounts)", "units",
                        [](const ShapePlan& p) { return p.units; }, format_count});
  h += bar_chart(plan, {"Time to read everything once", "full_read_seconds",
                        [](const ShapePlan& p) { return p.full_read_seconds; }, format_duration});
  h += "</div>\n<h2>Side by side</h2>\n" + plan_table(plan);
  h += "<p class=\"note\">Raw: drive capacity bought or rented. Usable: raw / protection (object "
       "storage: the bytes billed; its redundancy is in the price). Power: facility power, IT power x PUE (on-prem "
       "only). Read: aggregate read bandwidth. Net : NVMe: one unit's network over its drives' read bandwidth. $/TB-month: $/month per TB (10<sup>12</sup> bytes) of the capacity asked for. Full "
       "read: stored bytes / aggregate read bandwidth (archive tier: plus hours of rehydration). "
       "Formulas: docs/PLAN.md.</p>\n";
  h += figures_section(catalog);
  return h + "</body></html>\n";
}

}  // namespace kvtier::plan
