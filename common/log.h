// A tiny logging shim: Debian's absl (20220623) has no absl/log.
// LOG(INFO) << "..."; writes one line to stderr with level, time, file:line.
// LOG(FATAL) aborts after writing. Thread-safe: each line is written with one
// fwrite.
#ifndef LADLE_COMMON_LOG_H_
#define LADLE_COMMON_LOG_H_

#include <sstream>

namespace ladle {

enum class LogSeverity { kInfo, kWarning, kError, kFatal };

class LogMessage {
 public:
  LogMessage(LogSeverity severity, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogSeverity severity_;
  std::ostringstream stream_;
};

// Messages below this level are dropped (default kInfo;
// LADLE_LOG_LEVEL=warning|error).
LogSeverity MinLogSeverity();

}  // namespace ladle

#define LADLE_LOG_INFO ::ladle::LogSeverity::kInfo
#define LADLE_LOG_WARNING ::ladle::LogSeverity::kWarning
#define LADLE_LOG_ERROR ::ladle::LogSeverity::kError
#define LADLE_LOG_FATAL ::ladle::LogSeverity::kFatal

#define LOG(level) \
  ::ladle::LogMessage(LADLE_LOG_##level, __FILE__, __LINE__).stream()

#endif  // LADLE_COMMON_LOG_H_
