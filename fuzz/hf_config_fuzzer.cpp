// libFuzzer target for Hugging Face config.json (src/plan/model.cpp, `kvtier plan kv --model
// file`): a file downloaded from anywhere. Promises: an error or a layout whose derived figures
// can be computed (no crash, no UB in the arithmetic).
#include "fuzz_check.h"
#include "plan/model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto model = kvtier::plan::model_from_hf_config(kvtier::fuzz::as_text(data, size), "<fuzz>");
  if (!model.ok()) return 0;
  const auto& m = model.value();
  FUZZ_EXPECT(m.num_layers > 0, "accepted a model without layers");
  (void)m.elements_per_token();
  (void)m.formula();
  auto dtype = kvtier::plan::parse_kv_dtype(m.default_kv_dtype);
  if (dtype.ok()) (void)kvtier::plan::kv_bytes_per_token(m, dtype.value());
  return 0;
}
