// RESP request encoding into segments (resp_pipeline.h).
#include "shared/redis/resp_pipeline.h"

namespace kvtier::shared::redis {

void RespPipeline::command(std::initializer_list<std::string_view> args) {
  begin(args.size());
  for (std::string_view a : args) arg(a);
}

void RespPipeline::begin(std::size_t argc) {
  append_small("*" + std::to_string(argc) + "\r\n");
  ++commands_;
}

void RespPipeline::arg(std::string_view bytes) {
  append_small("$" + std::to_string(bytes.size()) + "\r\n");
  append_small(bytes);
  append_small("\r\n");
}

void RespPipeline::arg_with_payload(std::span<const std::byte> head,
                                    std::span<const std::byte> payload) {
  append_small("$" + std::to_string(head.size() + payload.size()) + "\r\n");
  append_small({reinterpret_cast<const char*>(head.data()), head.size()});
  if (!payload.empty()) {
    segments_.push_back({payload.data(), 0, payload.size()});
    bytes_ += payload.size();
  }
  append_small("\r\n");
}

void RespPipeline::append_small(std::string_view bytes) {
  // Extends the last segment when it is also in small_ and ends where these bytes start.
  if (!segments_.empty() && segments_.back().external == nullptr &&
      segments_.back().offset + segments_.back().size == small_.size()) {
    segments_.back().size += bytes.size();
  } else {
    segments_.push_back({nullptr, small_.size(), bytes.size()});
  }
  small_.append(bytes);
  bytes_ += bytes.size();
}

std::vector<iovec> RespPipeline::iovecs() const {
  std::vector<iovec> out;
  out.reserve(segments_.size());
  for (const Segment& s : segments_) {
    const void* base = s.external != nullptr ? static_cast<const void*>(s.external)
                                             : static_cast<const void*>(small_.data() + s.offset);
    out.push_back({const_cast<void*>(base), s.size});
  }
  return out;
}

}  // namespace kvtier::shared::redis
