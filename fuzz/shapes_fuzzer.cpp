// libFuzzer target for the shapes TOML of `kvtier plan fleet --shapes` (src/plan/shapes.cpp).
// Promises: an error or a catalog in which every shape has exactly its kind's fields.
#include "fuzz_check.h"
#include "plan/shapes.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto catalog = kvtier::plan::parse_shapes(kvtier::fuzz::as_text(data, size), "<fuzz>");
  if (!catalog.ok()) return 0;
  for (const auto& shape : catalog.value().shapes) {
    FUZZ_EXPECT(shape.figures.size() == kvtier::plan::shape_fields(shape.kind).size(),
                "shape " + shape.name + " lacks or adds fields");
    for (const auto& field : kvtier::plan::shape_fields(shape.kind)) (void)shape.value(field.name);
  }
  return 0;
}
