// EventLoop over epoll (see event_loop.h).
#include "server/event_loop.h"

#include <sys/eventfd.h>

#include <array>
#include <cerrno>
#include <vector>

namespace kvtier::server {

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return Status::FromErrno("epoll_create1", errno);
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return Status::FromErrno("eventfd", errno);
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(ep), std::move(wake)));
  int wake_fd = loop->wake_.get();
  KVTIER_RETURN_IF_ERROR(loop->add(wake_fd, EPOLLIN, [wake_fd](std::uint32_t) {
    std::uint64_t n;
    while (::read(wake_fd, &n, sizeof n) > 0) {
    }
  }));
  return loop;
}

Status EventLoop::add(int fd, std::uint32_t events, Callback callback) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Status::FromErrno("epoll_ctl(ADD)", errno);
  }
  registrations_[fd] = Registration{std::make_shared<Callback>(std::move(callback)), events};
  return Status::Ok();
}

Status EventLoop::modify(int fd, std::uint32_t events) {
  auto it = registrations_.find(fd);
  if (it == registrations_.end()) return Status::InvalidArgument("fd is not registered");
  if (it->second.events == events) return Status::Ok();
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) {
    return Status::FromErrno("epoll_ctl(MOD)", errno);
  }
  it->second.events = events;
  return Status::Ok();
}

void EventLoop::remove(int fd) {
  if (registrations_.erase(fd) == 0) return;
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

int EventLoop::run_once(std::chrono::milliseconds timeout) {
  std::array<epoll_event, 64> events;
  int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                       static_cast<int>(timeout.count()));
  if (n <= 0) return 0;
  // Take the callbacks first: one may remove another fd of this batch (and a new fd may then
  // reuse its number); a callback found missing here was removed and its event is dropped.
  std::vector<std::pair<std::shared_ptr<Callback>, std::uint32_t>> ready;
  ready.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const epoll_event& e = events[static_cast<std::size_t>(i)];
    std::uint32_t bits = e.events;  // epoll_event is packed: copy, do not bind
    auto it = registrations_.find(e.data.fd);
    if (it != registrations_.end()) ready.emplace_back(it->second.callback, bits);
  }
  int ran = 0;
  for (auto& [callback, bits] : ready) {
    // Removed by an earlier callback of this batch: the map no longer holds it.
    if (callback.use_count() == 1) continue;
    (*callback)(bits);
    ++ran;
  }
  return ran;
}

void EventLoop::wake() {
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

}  // namespace kvtier::server
