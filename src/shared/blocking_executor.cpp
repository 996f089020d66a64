// BlockingExecutor (see blocking_executor.h).
#include "shared/blocking_executor.h"
#include "sync/mutex.h"

#include <algorithm>

namespace kvtier::shared {

// Shared with the workers, so a detached (stuck) worker that wakes up later still has it.
struct BlockingExecutor::State {
  std::size_t max_queued;
  Mutex mu;
  std::condition_variable work_cv;  // a task was queued, or stopping
  std::condition_variable exit_cv;  // a worker exited
  std::deque<std::function<void()>> queue KVTIER_GUARDED_BY(mu);
  // Per worker; time_point{} when idle.
  std::vector<Clock::time_point> running_since KVTIER_GUARDED_BY(mu);
  std::uint32_t alive KVTIER_GUARDED_BY(mu) = 0;  // workers not yet exited
  bool stopping KVTIER_GUARDED_BY(mu) = false;
};

BlockingExecutor::BlockingExecutor(std::uint32_t threads, std::size_t max_queued)
    : state_(std::make_shared<State>()) {
  state_->max_queued = max_queued;
  threads = std::max<std::uint32_t>(threads, 1);
  state_->running_since.assign(threads, Clock::time_point{});
  state_->alive = threads;
  for (std::uint32_t i = 0; i < threads; ++i) {
    threads_.emplace_back([s = state_, i] { worker_loop(s, i); });
  }
}

BlockingExecutor::~BlockingExecutor() { stop(std::chrono::seconds(2)); }

bool BlockingExecutor::try_submit(std::function<void()> task) {
  {
    MutexLock lock(state_->mu);
    if (state_->stopping || state_->queue.size() >= state_->max_queued) return false;
    state_->queue.push_back(std::move(task));
  }
  state_->work_cv.notify_one();
  return true;
}

BlockingExecutor::Overrun BlockingExecutor::running_longer_than(Clock::duration threshold) const {
  MutexLock lock(state_->mu);
  const auto now = Clock::now();
  Overrun out;
  for (auto since : state_->running_since) {
    if (since == Clock::time_point{} || now - since <= threshold) continue;
    ++out.count;
    out.newest = std::max(out.newest, since);
  }
  return out;
}

void BlockingExecutor::stop(Clock::duration grace) {
  if (threads_.empty()) return;
  bool all_exited;
  {
    MutexLock lock(state_->mu);
    state_->stopping = true;
    state_->queue.clear();  // queued calls are abandoned: their callers stopped waiting
    state_->work_cv.notify_all();
    all_exited = state_->exit_cv.wait_for(lock.native(), grace, [&]() KVTIER_REQUIRES(state_->mu) {
      return state_->alive == 0;
    });
  }
  for (std::thread& t : threads_) {
    // A worker stuck in a call that never returns (a frozen mount) is left to finish on its own;
    // it holds the State and its task's own references, nothing of ours.
    if (all_exited) t.join();
    else t.detach();
  }
  threads_.clear();
}

void BlockingExecutor::worker_loop(const std::shared_ptr<State>& s, std::size_t index) {
  MutexLock lock(s->mu);
  for (;;) {
    s->work_cv.wait(lock.native(), [&]() KVTIER_REQUIRES(s->mu) {
      return s->stopping || !s->queue.empty();
    });
    if (s->stopping) break;
    std::function<void()> task = std::move(s->queue.front());
    s->queue.pop_front();
    s->running_since[index] = BlockingExecutor::Clock::now();
    lock.unlock();
    task();
    task = nullptr;  // release what the task holds before reporting idle
    lock.lock();
    s->running_since[index] = BlockingExecutor::Clock::time_point{};
  }
  --s->alive;
  s->exit_cv.notify_all();
}

}  // namespace kvtier::shared
