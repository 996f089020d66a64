// Reading data/shapes.toml into a ShapeCatalog, command-line overrides and shape selection.
#include "plan/shapes.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

#include <toml++/toml.h>

#include "coding/printf_string.h"
#include "config/toml_fields.h"
#include "plan/units.h"

namespace kvtier::plan {
namespace {

// data/shapes.toml, as bytes, written by CMake into the build tree (CMakeLists.txt).
constexpr char kDefaultShapes[] = {
#include "plan/default_shapes_toml.inc"
};

using T = FigureType;

constexpr FieldSpec kVmFields[] = {
    {"vcpus", T::kCount, false, "vCPUs per VM (for reference; not used in the sizing)"},
    {"nvme_drives", T::kCount, false, "local NVMe drives per VM"},
    {"nvme_drive_capacity", T::kBytes, false, "capacity of one NVMe drive"},
    {"nvme_read_bandwidth", T::kBandwidth, false, "the VM's local NVMe read bandwidth, all drives"},
    {"network_bandwidth", T::kBandwidth, false, "the VM's network bandwidth"},
    {"price_per_hour", T::kMoney, true, "price of one VM per hour"},
};

constexpr FieldSpec kEnclosureFields[] = {
    {"drives_per_enclosure", T::kCount, false, "SSDs per enclosure"},
    {"drive_capacity", T::kBytes, false, "capacity of one SSD"},
    {"drive_read_bandwidth", T::kBandwidth, false, "read bandwidth of one SSD"},
    {"network_bandwidth", T::kBandwidth, false, "network bandwidth of one enclosure"},
    {"enclosure_rack_units", T::kCount, false, "rack units one enclosure takes"},
    {"rack_units_per_rack", T::kCount, false, "rack units of a rack"},
    {"rack_units_reserved", T::kCount, true, "rack units per rack kept for switches and cabling"},
    {"rack_power_limit_kw", T::kNumber, false, "IT power a rack may draw, kW"},
    {"enclosure_power_kw", T::kNumber, false, "IT power of one enclosure under load, kW"},
    {"drive_price_per_tb", T::kMoney, true, "price of the SSDs per TB (10^12 bytes)"},
    {"enclosure_price", T::kMoney, true, "price of one enclosure without its SSDs"},
    {"amortization_months", T::kNumber, false, "months over which the hardware is amortized"},
    {"colocation_per_kw_month", T::kMoney, true, "colocation price per kW of IT power per month"},
    {"pue", T::kNumber, false, "power usage effectiveness: facility power / IT power"},
    {"electricity_per_kwh", T::kMoney, true, "metered energy price per kWh of facility energy"},
};

constexpr FieldSpec kObjectFields[] = {
    {"price_per_gb_month", T::kMoney, true, "storage price per billed GB per month"},
    {"billing_gb", T::kBytes, false, "the bytes of one billed GB"},
    {"account_capacity", T::kBytes, false, "capacity of one storage account"},
    {"account_egress", T::kBandwidth, false, "read (egress) bandwidth of one storage account"},
    {"account_requests_per_second", T::kCount, false, "requests per second of one account"},
    {"read_request_size", T::kBytes, false, "bytes per GET request of a full read"},
    {"read_price_per_10k", T::kMoney, true, "price of 10,000 read requests"},
    {"retrieval_per_gb", T::kMoney, true, "data retrieval price per billed GB read"},
};

constexpr FieldSpec kCommonFields[] = {
    {"hours_per_month", T::kNumber, false, "hours in a billing month"},
};

constexpr std::string_view kFigureKeys[] = {"value", "source", "date", "assumption", "note"};

std::string where(const std::string& source_name, const toml::source_region& r) {
  if (r.begin.line == 0) return source_name + ": ";
  return source_name + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column) +
         ": ";
}

Status error_at(const std::string& source_name, const toml::node& node, const std::string& text) {
  return Status::InvalidArgument(where(source_name, node.source()) + text);
}

// The names of `items` (fields, shapes), comma-separated.
template <typename Items>
std::string joined(const Items& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + std::string(i.name);
  return out;
}

const FieldSpec* find_field(std::span<const FieldSpec> fields, std::string_view name) {
  for (const FieldSpec& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// A plain number (a count, a ratio, dollars): digits, an optional fraction and exponent, no unit.
Result<double> parse_plain_number(std::string_view text) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (!text.empty() && text[0] == '-') return Status::InvalidArgument("must not be negative");
  if (ec != std::errc() || ptr != end || text.empty() || !std::isfinite(v) ||
      !(std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '.')) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a number");
  }
  return v;
}

// Parses `text` as a value of `spec`'s type into `out` (value and text).
Status parse_value(const FieldSpec& spec, std::string_view text, Figure& out) {
  Result<double> v = spec.type == T::kBandwidth ? parse_bandwidth(text)
                     : spec.type == T::kBytes   ? parse_byte_quantity(text)
                                                : parse_plain_number(text);
  if (!v.ok()) return v.status();
  if (spec.type == T::kCount && *v != std::floor(*v)) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a whole number");
  }
  if (!spec.may_be_zero && *v == 0) return Status::InvalidArgument("must be more than zero");
  out.value = *v;
  out.text = std::string(text);
  return Status::Ok();
}

// A figure's `value`: a number, or a string with a unit for sizes and bandwidths.
Status read_value(const std::string& src, const FieldSpec& spec, const toml::node& node,
                  const std::string& field, Figure& out) {
  std::string text;
  if (const auto* s = node.as_string()) {
    if (spec.type != T::kBytes && spec.type != T::kBandwidth) {
      return error_at(src, node, field + ": expected a number, got a string");
    }
    text = s->get();
  } else if (node.is_number()) {
    if (spec.type == T::kBandwidth) {
      return error_at(src, node, field + ": a bandwidth needs a unit: write e.g. \"41 Gbps\"");
    }
    const double d = node.is_integer() ? static_cast<double>(node.as_integer()->get())
                                       : node.as_floating_point()->get();
    if (d < 0) return error_at(src, node, field + ": must not be negative");
    text = printf_string("%.15g", d);
  } else {
    return error_at(src, node, field + ": expected a number or a string with a unit");
  }
  Status s = parse_value(spec, text, out);
  if (!s.ok()) return error_at(src, node, field + ": " + s.message());
  return Status::Ok();
}

Status read_figure(const std::string& src, const toml::table& parent, const FieldSpec& spec,
                   const std::string& prefix, const std::map<std::string, Source>& sources,
                   Figure& out) {
  const std::string field = prefix + "." + std::string(spec.name);
  const toml::node* node = parent.get(spec.name);
  if (node == nullptr) {
    return error_at(src, parent, "[" + prefix + "] is missing the figure \"" +
                                     std::string(spec.name) + "\" (" + std::string(spec.meaning) +
                                     ")");
  }
  const toml::table* t = node->as_table();
  if (t == nullptr) {
    return error_at(src, *node, field + ": expected { value = ..., source = \"...\", date = "
                                        "\"YYYY-MM-DD\" }");
  }
  for (auto&& [key, v] : *t) {
    if (std::find(std::begin(kFigureKeys), std::end(kFigureKeys), key.str()) ==
        std::end(kFigureKeys)) {
      return error_at(src, v, field + ": unknown key \"" + std::string(key.str()) +
                                  "\" (allowed: value, source, date, assumption, note)");
    }
  }
  for (std::string_view required : {"value", "source", "date"}) {
    if (t->get(required) == nullptr) {
      return error_at(src, *node, field + ": missing \"" + std::string(required) +
                                      "\" (every figure says where it comes from and when)");
    }
  }
  KVTIER_RETURN_IF_ERROR(read_value(src, spec, *t->get("value"), field, out));
  const auto source = t->get("source")->value<std::string>();
  if (!source) return error_at(src, *t->get("source"), field + ".source: expected a string");
  if (!sources.contains(*source)) {
    return error_at(src, *t->get("source"),
                    field + ".source: \"" + *source + "\" is not a key of [sources]");
  }
  out.source = *source;
  const auto date = t->get("date")->value<std::string>();
  if (!date || date->size() != 10 || (*date)[4] != '-' || (*date)[7] != '-') {
    return error_at(src, *t->get("date"), field + ".date: expected a string \"YYYY-MM-DD\"");
  }
  out.date = *date;
  if (const toml::node* a = t->get("assumption")) {
    if (!a->is_boolean()) return error_at(src, *a, field + ".assumption: expected true or false");
    out.assumption = a->as_boolean()->get();
  }
  if (const toml::node* n = t->get("note")) {
    if (!n->is_string()) return error_at(src, *n, field + ".note: expected a string");
    out.note = n->as_string()->get();
  }
  return Status::Ok();
}

Status read_figures(const std::string& src, const toml::table& t, std::string_view table_name,
                    std::span<const FieldSpec> fields, std::span<const std::string_view> extra,
                    const std::map<std::string, Source>& sources,
                    std::map<std::string, Figure>& out) {
  const std::string prefix(table_name);
  for (auto&& [key, v] : t) {
    const bool known = find_field(fields, key.str()) != nullptr ||
                       std::find(extra.begin(), extra.end(), key.str()) != extra.end();
    if (!known) {
      return error_at(src, v, "unknown key \"" + prefix + "." + std::string(key.str()) +
                                  "\" (a shape of this kind has: " + joined(fields) + ")");
    }
  }
  for (const FieldSpec& spec : fields) {
    KVTIER_RETURN_IF_ERROR(read_figure(src, t, spec, prefix, sources, out[std::string(spec.name)]));
  }
  return Status::Ok();
}

std::optional<ShapeKind> kind_from(std::string_view name) {
  for (ShapeKind k : {ShapeKind::kVm, ShapeKind::kEnclosure, ShapeKind::kObject}) {
    if (shape_kind_name(k) == name) return k;
  }
  return std::nullopt;
}

Status read_sources(const std::string& src, const toml::table& root,
                    std::map<std::string, Source>& out) {
  const toml::table* sources = root["sources"].as_table();
  if (sources == nullptr) return Status::InvalidArgument(src + ": missing the [sources] table");
  for (auto&& [key, v] : *sources) {
    const toml::table* t = v.as_table();
    const std::string name = "sources." + std::string(key.str());
    if (t == nullptr || !(*t)["title"].is_string()) {
      return error_at(src, v, name + ": expected a table with title = \"...\" (and url)");
    }
    Source s;
    s.title = *(*t)["title"].value<std::string>();
    s.url = (*t)["url"].value_or(std::string());
    out[std::string(key.str())] = std::move(s);
  }
  return Status::Ok();
}

Status read_shape(const std::string& src, const std::string& name, const toml::node& node,
                  const std::map<std::string, Source>& sources, Shape& out) {
  const toml::table* t = node.as_table();
  const std::string prefix = "shapes." + name;
  if (t == nullptr) return error_at(src, node, prefix + ": expected a table");
  const auto kind = (*t)["kind"].value<std::string>();
  if (!kind) return error_at(src, node, "[" + prefix + "] needs kind = \"vm\", \"enclosure\" or \"object\"");
  std::optional<ShapeKind> k = kind_from(*kind);
  if (!k) {
    return error_at(src, *t->get("kind"), prefix + ".kind: unknown kind \"" + *kind +
                                              "\" (vm, enclosure or object)");
  }
  out.name = name;
  out.kind = *k;
  out.title = (*t)["title"].value_or(name);
  constexpr std::string_view kExtra[] = {"kind", "title"};
  return read_figures(src, *t, prefix, shape_fields(*k), kExtra, sources, out.figures);
}

Status read_catalog(const std::string& src, const toml::table& root, ShapeCatalog& out) {
  for (auto&& [key, v] : root) {
    if (key.str() != "sources" && key.str() != "common" && key.str() != "shapes") {
      return error_at(src, v, "unknown table \"" + std::string(key.str()) +
                                  "\" (allowed: sources, common, shapes)");
    }
  }
  KVTIER_RETURN_IF_ERROR(read_sources(src, root, out.sources));
  const toml::table* common = root["common"].as_table();
  if (common == nullptr) return Status::InvalidArgument(src + ": missing the [common] table");
  KVTIER_RETURN_IF_ERROR(read_figures(src, *common, "common", common_fields(), {}, out.sources,
                                      out.common));
  const toml::table* shapes = root["shapes"].as_table();
  if (shapes == nullptr || shapes->empty()) {
    return Status::InvalidArgument(src + ": no [shapes.<name>] tables");
  }
  std::vector<std::pair<std::size_t, Shape>> ordered;  // toml++ sorts keys; keep the file order
  for (auto&& [key, v] : *shapes) {
    Shape shape;
    KVTIER_RETURN_IF_ERROR(read_shape(src, std::string(key.str()), v, out.sources, shape));
    ordered.emplace_back(v.source().begin.line, std::move(shape));
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [line, shape] : ordered) out.shapes.push_back(std::move(shape));
  return Status::Ok();
}

}  // namespace

std::string_view shape_kind_name(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::kVm: return "vm";
    case ShapeKind::kEnclosure: return "enclosure";
    case ShapeKind::kObject: return "object";
  }
  return "unknown";
}

std::span<const FieldSpec> shape_fields(ShapeKind kind) {
  switch (kind) {
    case ShapeKind::kVm: return kVmFields;
    case ShapeKind::kEnclosure: return kEnclosureFields;
    case ShapeKind::kObject: return kObjectFields;
  }
  return {};
}

std::span<const FieldSpec> common_fields() { return kCommonFields; }

double Shape::value(std::string_view field) const {
  return figures.at(std::string(field)).value;
}

const Shape* ShapeCatalog::find(std::string_view name) const {
  for (const Shape& s : shapes) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

double ShapeCatalog::common_value(std::string_view field) const {
  return common.at(std::string(field)).value;
}

std::string_view default_shapes_toml() {
  return std::string_view(kDefaultShapes, sizeof kDefaultShapes);
}

Result<ShapeCatalog> parse_shapes(std::string_view text, const std::string& source_name) {
  ShapeCatalog catalog;
  Status s = read_toml_document(text, source_name, [&](const toml::table& root) {
    return read_catalog(source_name, root, catalog);
  });
  if (!s.ok()) return s;
  return catalog;
}

Result<ShapeCatalog> load_shapes_file(const std::string& path) {
  Result<std::string> text = read_config_file_text(path);
  if (!text.ok()) return text.status();
  return parse_shapes(*text, path);
}

Result<ShapeCatalog> load_default_shapes() {
  return parse_shapes(default_shapes_toml(), "data/shapes.toml (built in)");
}

Status apply_override(ShapeCatalog& catalog, std::string_view assignment) {
  const std::size_t dot = assignment.find('.');
  const std::size_t eq = assignment.find('=');
  if (dot == std::string_view::npos || eq == std::string_view::npos || dot > eq) {
    return Status::InvalidArgument("--set \"" + std::string(assignment) +
                                   "\": expected <shape>.<field>=<value>, e.g. "
                                   "L96s_v4.price_per_hour=9.5");
  }
  const std::string shape_name(assignment.substr(0, dot));
  const std::string field(assignment.substr(dot + 1, eq - dot - 1));
  const std::string_view text = assignment.substr(eq + 1);
  std::map<std::string, Figure>* figures = nullptr;
  std::span<const FieldSpec> fields;
  if (shape_name == "common") {
    figures = &catalog.common;
    fields = common_fields();
  } else {
    auto it = std::find_if(catalog.shapes.begin(), catalog.shapes.end(),
                           [&](const Shape& s) { return s.name == shape_name; });
    if (it == catalog.shapes.end()) {
      return Status::InvalidArgument("--set " + std::string(assignment) + ": unknown shape \"" +
                                     shape_name + "\" (known: common, " + joined(catalog.shapes) +
                                     ")");
    }
    figures = &it->figures;
    fields = shape_fields(it->kind);
  }
  const FieldSpec* spec = find_field(fields, field);
  if (spec == nullptr) {
    return Status::InvalidArgument("--set " + std::string(assignment) + ": \"" + shape_name +
                                   "\" has no field \"" + field + "\" (it has: " +
                                   joined(fields) + ")");
  }
  Figure figure;
  Status s = parse_value(*spec, text, figure);
  if (!s.ok()) return Status::InvalidArgument("--set " + std::string(assignment) + ": " + s.message());
  figure.source = "command line";
  figure.overridden = true;
  figure.note = "set with --set; the file had " + (*figures)[field].text;
  (*figures)[field] = std::move(figure);
  return Status::Ok();
}

Status select_shapes(ShapeCatalog& catalog, std::span<const std::string> names) {
  if (names.empty()) return Status::Ok();
  std::vector<Shape> chosen;
  for (const std::string& name : names) {
    const Shape* s = catalog.find(name);
    if (s == nullptr) {
      return Status::InvalidArgument("unknown shape \"" + name + "\" (known: " +
                                     joined(catalog.shapes) + ")");
    }
    chosen.push_back(*s);
  }
  catalog.shapes = std::move(chosen);
  return Status::Ok();
}

}  // namespace kvtier::plan
