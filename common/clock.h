// Time sources. Domain logic (scheduler, store) takes a Clock so tests drive
// time by hand.
#ifndef LADLE_COMMON_CLOCK_H_
#define LADLE_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace ladle {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall time: persisted timestamps must
  // survive restarts).
  virtual int64_t NowMillis() const = 0;
  // Microseconds since the Unix epoch, for latencies below a millisecond.
  virtual int64_t NowMicros() const { return NowMillis() * 1000; }
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

// A clock tests advance by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000)
      : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_.fetch_add(millis); }
  void Set(int64_t millis) { now_.store(millis); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace ladle

#endif  // LADLE_COMMON_CLOCK_H_
