// OutputQueue (see output_queue.h).
#include "server/output_queue.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>

namespace kvtier::server {

namespace {
// Frame buffers above this are not kept for reuse (a large LOOKUP response once must not pin it).
constexpr std::size_t kRetainedFrameBytes = 256 * 1024;
constexpr std::size_t kMaxIov = 64;
}  // namespace

OutputQueue::~OutputQueue() {
  while (!pieces_.empty()) retire_front();
}

std::vector<std::byte>& OutputQueue::frame_buffer() {
  if (pieces_.empty() || !pieces_.back().is_frames()) {
    Piece p;
    p.frames = std::move(spare_frames_);
    p.frames.clear();
    spare_frames_ = {};
    pieces_.push_back(std::move(p));
  }
  tail_size_before_ = pieces_.back().frames.size();
  return pieces_.back().frames;
}

void OutputQueue::frame_appended() {
  const std::size_t added = pieces_.back().frames.size() - tail_size_before_;
  queued_ += added;
  held_ += added;
}

void OutputQueue::add_error(protocol::Opcode op, std::uint64_t request_id, const Status& error) {
  std::vector<std::byte>& b = frame_buffer();
  // Refused only for an OK status, which no caller passes.
  (void)protocol::append_error_frame(b, op, request_id, error);
  frame_appended();
  data_owed_ = 0;
}

void OutputQueue::append_data(AlignedBuffer buffer, std::size_t len) {
  if (len == 0 || len > data_owed_) {
    if (len != 0) ++dropped_data_;
    pool_.give(std::move(buffer));
    return;
  }
  data_owed_ -= len;
  Piece p;
  p.held = buffer.footprint();
  p.data = std::move(buffer);
  p.len = len;
  queued_ += len;
  held_ += p.held;
  pieces_.push_back(std::move(p));
}

void OutputQueue::append_view(engine::BlockView view) {
  if (view.bytes().size() > data_owed_) {
    ++dropped_data_;
    return;
  }
  data_owed_ -= view.bytes().size();
  Piece p;
  p.len = view.bytes().size();
  p.held = view.held_bytes();
  p.view = std::move(view);
  queued_ += p.len;
  held_ += p.held;
  pieces_.push_back(std::move(p));
}

void OutputQueue::retire_front() {
  Piece& p = pieces_.front();
  held_ -= p.held;
  if (!p.data.empty()) {
    pool_.give(std::move(p.data));
  } else if (p.is_frames() && p.frames.capacity() <= kRetainedFrameBytes) {
    spare_frames_ = std::move(p.frames);
  }
  pieces_.pop_front();
}

Result<std::uint64_t> OutputQueue::send_to(int fd) {
  return send_with([fd](const iovec* iov, std::size_t count) -> Result<std::int64_t> {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = count;
    for (;;) {
      ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w >= 0) return static_cast<std::int64_t>(w);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return kWouldBlock;
      return Status::FromErrno("send", errno);
    }
  });
}

Result<std::uint64_t> OutputQueue::send_with(const Writer& write) {
  std::uint64_t total = 0;
  while (!pieces_.empty()) {
    std::array<iovec, kMaxIov> iov;
    std::size_t n = 0;
    for (const Piece& p : pieces_) {
      if (n == kMaxIov) break;
      if (p.size() == p.sent) continue;
      iov[n].iov_base = const_cast<std::byte*>(p.bytes() + p.sent);
      iov[n].iov_len = p.size() - p.sent;
      ++n;
    }
    if (n == 0) break;  // only the empty tail frame buffer is left: nothing to send
    Result<std::int64_t> w = write(iov.data(), n);
    if (!w.ok()) return w.status();
    if (*w == kWouldBlock) break;
    std::size_t left = static_cast<std::size_t>(*w);
    total += left;
    queued_ -= left;
    while (left > 0 || (!pieces_.empty() && pieces_.front().sent == pieces_.front().size())) {
      Piece& p = pieces_.front();
      std::size_t take = std::min(left, p.size() - p.sent);
      p.sent += take;
      if (p.is_frames()) held_ -= take;
      left -= take;
      if (p.sent < p.size()) break;
      // The tail frame buffer may still be appended to: keep it, empty, instead of retiring it.
      if (pieces_.size() == 1 && p.is_frames()) {
        p.frames.clear();
        p.sent = 0;
        break;
      }
      retire_front();
    }
    if (queued_ == 0) break;
  }
  return total;
}

}  // namespace kvtier::server
