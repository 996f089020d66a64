// dram::S3Fifo: queue and ghost bookkeeping of the S3-FIFO policy (see s3fifo.h).
#include "dram/s3fifo.h"

#include <algorithm>

#include "integrity/check.h"

namespace kvtier::dram {

void FifoList::push_head(Block* b) {
  b->prev = nullptr;
  b->next = head_;
  if (head_) head_->prev = b;
  head_ = b;
  if (!tail_) tail_ = b;
  ++count_;
  bytes_ += b->charge;
}

void FifoList::push_tail(Block* b) {
  b->next = nullptr;
  b->prev = tail_;
  if (tail_) tail_->next = b;
  tail_ = b;
  if (!head_) head_ = b;
  ++count_;
  bytes_ += b->charge;
}

Block* FifoList::pop_tail() {
  Block* b = tail_;
  if (b) unlink(b);
  return b;
}

void FifoList::unlink(Block* b) {
  KVTIER_CHECK(count_ > 0 && bytes_ >= b->charge);
  if (b->prev) b->prev->next = b->next; else head_ = b->next;
  if (b->next) b->next->prev = b->prev; else tail_ = b->prev;
  b->prev = b->next = nullptr;
  --count_;
  bytes_ -= b->charge;
}

void S3Fifo::insert(Block* b) {
  insert_into(b, ghost_contains(b->hash) ? Queue::kMain : Queue::kSmall);
}

void S3Fifo::insert_into(Block* b, Queue q) {
  KVTIER_CHECK(b->queue == Queue::kNone && q != Queue::kNone);
  if (q == Queue::kMain) {
    to_main(b);
  } else {
    small_.push_head(b);
    b->queue = Queue::kSmall;
  }
}

void S3Fifo::to_main(Block* b) {
  main_.push_head(b);
  b->queue = Queue::kMain;
}

void S3Fifo::erase(Block* b) {
  switch (b->queue) {
    case Queue::kSmall: small_.unlink(b); break;
    case Queue::kMain: main_.unlink(b); break;
    case Queue::kNone: KVTIER_CHECK(b->queue != Queue::kNone); break;
  }
  b->queue = Queue::kNone;
}

void S3Fifo::restore(std::span<Block* const> victims) {
  for (auto it = victims.rbegin(); it != victims.rend(); ++it) {
    KVTIER_CHECK((*it)->queue == Queue::kNone);
    main_.push_tail(*it);
    (*it)->queue = Queue::kMain;
  }
}

void S3Fifo::ghost_add(std::uint64_t hash) {
  ghost_fifo_.push_back(hash);
  ++ghost_count_[hash];
  // The ghost remembers about as many ids as the cache holds blocks.
  const std::size_t limit = std::max(kMinGhost, blocks());
  while (ghost_fifo_.size() > limit) {
    const std::uint64_t old = ghost_fifo_.front();
    ghost_fifo_.pop_front();
    auto it = ghost_count_.find(old);
    if (it != ghost_count_.end() && --it->second == 0) ghost_count_.erase(it);
  }
}

}  // namespace kvtier::dram
