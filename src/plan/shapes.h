// The deployment shapes `kvtier plan fleet` compares (data/shapes.toml): cloud VMs with local
// NVMe, on-prem flash enclosures and object-storage tiers, each a set of figures that carry their
// source, the date they were recorded and whether they are an assumption.
//
// The default catalog is data/shapes.toml as it was at build time, compiled into the binary, so an
// installed kvtier needs no data directory; load_shapes_file() reads another one.
//
// Thread-safety: plain values and functions of their arguments.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvtier/status.h"

namespace kvtier::plan {

enum class ShapeKind { kVm, kEnclosure, kObject };

// "vm", "enclosure", "object": the `kind` key of a shape.
std::string_view shape_kind_name(ShapeKind kind);

// How a figure's value is written and checked.
enum class FigureType {
  kCount,      // a number of things: a whole number
  kNumber,     // a plain number (a ratio, kW, months)
  kMoney,      // US dollars
  kBytes,      // a size: a number of bytes or a string with a unit ("1.92 TB"), plan/units.h
  kBandwidth,  // a string with a unit ("41 Gbps"), stored in bytes per second
};

// One field a shape of some kind must have.
struct FieldSpec {
  std::string_view name;
  FigureType type;
  bool may_be_zero;  // prices may be 0; a capacity or bandwidth that is divided by may not
  std::string_view meaning;
};

// The fields every shape of `kind` has, in the order reports list them.
std::span<const FieldSpec> shape_fields(ShapeKind kind);
// The fields of [common].
std::span<const FieldSpec> common_fields();

struct Figure {
  double value = 0;      // bytes, bytes/s, dollars or a plain number (FieldSpec::type)
  std::string text;      // as written in the file or on the command line ("1.92 TB", "96")
  std::string source;    // a key of ShapeCatalog::sources, or "command line"
  std::string date;      // YYYY-MM-DD; empty for a command-line override
  bool assumption = false;
  std::string note;
  bool overridden = false;  // set by --set
};

struct Source {
  std::string title;
  std::string url;  // may be empty
};

struct Shape {
  std::string name;  // the table key: [shapes.<name>]
  std::string title;
  ShapeKind kind = ShapeKind::kVm;
  std::map<std::string, Figure> figures;  // exactly shape_fields(kind)

  // The value of a field of this shape's kind. REQUIRES: `field` is in shape_fields(kind).
  double value(std::string_view field) const;
};

struct ShapeCatalog {
  std::map<std::string, Source> sources;
  std::map<std::string, Figure> common;  // exactly common_fields()
  std::vector<Shape> shapes;              // in the order of the file

  const Shape* find(std::string_view name) const;
  double common_value(std::string_view field) const;  // REQUIRES: field in common_fields()
};

// data/shapes.toml as compiled into the binary.
std::string_view default_shapes_toml();

// Parses a shapes file (`source_name` prefixes every error, with line:column where known).
// InvalidArgument for a TOML syntax error, an unknown kind, key or source, a missing field, a
// figure without source or date, a bad unit or a negative value.
Result<ShapeCatalog> parse_shapes(std::string_view text, const std::string& source_name);
Result<ShapeCatalog> load_shapes_file(const std::string& path);
// The catalog of default_shapes_toml().
Result<ShapeCatalog> load_default_shapes();

// Applies "<shape>.<field>=<value>" (or "common.<field>=<value>"): the value is parsed as the
// field's type and the figure marked overridden, with source "command line". InvalidArgument for
// a malformed assignment, an unknown shape or field (naming the known ones) or a bad value.
Status apply_override(ShapeCatalog& catalog, std::string_view assignment);

// Keeps only the shapes named, in the order given. InvalidArgument naming an unknown shape and
// listing the known ones; an empty list keeps every shape.
Status select_shapes(ShapeCatalog& catalog, std::span<const std::string> names);

}  // namespace kvtier::plan
