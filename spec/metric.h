// One point of a job's metric series (a metrics.jsonl key at a step), as the
// store keeps it and as result tables and charts read it.
#ifndef LADLE_SPEC_METRIC_H_
#define LADLE_SPEC_METRIC_H_

#include <cstdint>
#include <string>

namespace ladle {

struct MetricPoint {
  std::string job_id;
  int64_t attempt_id = 0;
  int64_t step = 0;
  std::string name;
  double value = 0;
  int64_t time_ms = 0;
};

}  // namespace ladle

#endif  // LADLE_SPEC_METRIC_H_
