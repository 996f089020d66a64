// Mooncake-format JSONL traces (see trace_reader.h).
#include "workload/trace_reader.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace kvtier::workload {
namespace {

using nlohmann::json;

Status line_error(std::uint64_t line, const std::string& why) {
  return Status::InvalidArgument("trace line " + std::to_string(line) + ": " + why);
}

// A non-negative integer field; JSON numbers like 3.0 are refused (ids and lengths are counts).
Result<std::uint64_t> count_field(const json& obj, const char* name, std::uint64_t line) {
  auto it = obj.find(name);
  if (it == obj.end()) return line_error(line, std::string("missing \"") + name + "\"");
  if (!it->is_number_unsigned()) {
    return line_error(line, std::string("\"") + name + "\" must be a non-negative integer");
  }
  return it->get<std::uint64_t>();
}

Result<TraceRequest> parse_line(std::string_view text, std::uint64_t line) {
  json obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return line_error(line, "not valid JSON");
  if (!obj.is_object()) return line_error(line, "not a JSON object");
  TraceRequest r;
  r.line = line;
  for (auto [name, field] : {std::pair{"timestamp", &TraceRequest::timestamp_ms},
                              {"input_length", &TraceRequest::input_length},
                              {"output_length", &TraceRequest::output_length}}) {
    Result<std::uint64_t> v = count_field(obj, name, line);
    if (!v.ok()) return v.status();
    r.*field = *v;
  }
  auto ids = obj.find("hash_ids");
  if (ids == obj.end()) return line_error(line, "missing \"hash_ids\"");
  if (!ids->is_array()) return line_error(line, "\"hash_ids\" must be a list of integers");
  for (std::size_t i = 0; i < ids->size(); ++i) {
    if (!(*ids)[i].is_number_unsigned()) {
      return line_error(line, "hash_ids[" + std::to_string(i) + "] must be a non-negative integer");
    }
    r.hash_ids.push_back((*ids)[i].get<std::uint64_t>());
  }
  return r;
}

class TraceWorkload final : public Workload {
 public:
  TraceWorkload(std::vector<TraceRequest> requests, const Key& ns_key, std::uint32_t repeat)
      : requests_(std::move(requests)), ns_key_(ns_key), repeat_(std::max<std::uint32_t>(repeat, 1)) {}

  bool next(WorkloadRequest& out) override {
    if (requests_.empty() || pass_ >= repeat_) return false;
    const TraceRequest& r = requests_[at_];
    // Later passes continue the clock after the last request of the previous pass.
    std::uint64_t span = requests_.back().timestamp_ms - requests_.front().timestamp_ms + 1;
    out.index = index_++;
    out.timestamp_ms = r.timestamp_ms + pass_ * span;
    out.session = 0;
    out.chain.clear();
    for (std::uint64_t id : r.hash_ids) out.chain.push_back(trace_block_key(ns_key_, id));
    out.prompt_tokens = r.input_length;
    out.output_tokens = static_cast<std::uint32_t>(std::min<std::uint64_t>(r.output_length, UINT32_MAX));
    out.new_from = seen_.mark(out.chain);
    if (++at_ == requests_.size()) {
      at_ = 0;
      ++pass_;
    }
    return true;
  }
  std::string_view name() const override { return "trace"; }

 private:
  std::vector<TraceRequest> requests_;
  Key ns_key_;
  std::uint32_t repeat_;
  std::uint32_t pass_ = 0;
  std::size_t at_ = 0;
  std::uint64_t index_ = 0;
  SeenKeys seen_;
};

}  // namespace

Result<std::vector<TraceRequest>> parse_trace(std::string_view text) {
  std::vector<TraceRequest> out;
  std::uint64_t line = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view one = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (one.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    Result<TraceRequest> r = parse_line(one, line);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const TraceRequest& a, const TraceRequest& b) { return a.timestamp_ms < b.timestamp_ms; });
  return out;
}

Result<std::vector<TraceRequest>> read_trace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("trace " + path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  Result<std::vector<TraceRequest>> r = parse_trace(text.str());
  if (!r.ok()) return Status::InvalidArgument(path + ": " + r.status().message());
  return r;
}

Key trace_block_key(const Key& ns_key, std::uint64_t id) {
  std::array<std::uint32_t, 2> words{static_cast<std::uint32_t>(id), static_cast<std::uint32_t>(id >> 32)};
  return chain_key(ns_key, words);
}

std::unique_ptr<Workload> make_trace_workload(std::vector<TraceRequest> requests, const Key& ns_key,
                                              std::uint32_t repeat) {
  return std::make_unique<TraceWorkload>(std::move(requests), ns_key, repeat);
}

}  // namespace kvtier::workload
