#include <condition_variable>
#include <mutex>
#include <thread>

#include "qaudit/train.h"

namespace qaudit::train {

// Workers sleep on `wake` until `generation` changes, run their range of the current job
// and count down `pending`; the caller runs range 0 itself and then waits on `done`.
struct ThreadPool::Shared {
  std::mutex mutex;
  std::condition_variable wake, done;
  uint64_t generation = 0;
  int pending = 0;
  bool stopping = false;
  const std::function<void(int64_t, int64_t, int)>* job = nullptr;
  int64_t n = 0;
  std::vector<std::thread> workers;
};

namespace {

void RunRange(const std::function<void(int64_t, int64_t, int)>& fn, int64_t n, int parts, int worker) {
  const int64_t begin = n * worker / parts;
  const int64_t end = n * (worker + 1) / parts;
  if (begin < end) fn(begin, end, worker);
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)), shared_(std::make_unique<Shared>()) {
  Shared* s = shared_.get();
  for (int w = 1; w < num_threads_; ++w) {
    s->workers.emplace_back([s, w, parts = num_threads_] {
      uint64_t seen = 0;
      for (;;) {
        std::unique_lock<std::mutex> lock(s->mutex);
        s->wake.wait(lock, [&] { return s->stopping || s->generation != seen; });
        if (s->stopping) return;
        seen = s->generation;
        const auto* job = s->job;
        const int64_t n = s->n;
        lock.unlock();
        RunRange(*job, n, parts, w);
        lock.lock();
        if (--s->pending == 0) s->done.notify_one();
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->wake.notify_all();
  for (std::thread& t : shared_->workers) t.join();
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (num_threads_ == 1 || n <= 1) {
    if (n > 0) fn(0, n, 0);
    return;
  }
  Shared* s = shared_.get();
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->job = &fn;
    s->n = n;
    s->pending = num_threads_ - 1;
    ++s->generation;
  }
  s->wake.notify_all();
  RunRange(fn, n, num_threads_, 0);
  std::unique_lock<std::mutex> lock(s->mutex);
  s->done.wait(lock, [&] { return s->pending == 0; });
}

}  // namespace qaudit::train
