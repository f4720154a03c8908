#include "proto/api_util.h"

namespace ladle {
namespace {
constexpr const char* kExperimentStates[] = {
    "unspecified", "running", "succeeded", "failed", "cancelled"};
constexpr const char* kJobStates[] = {"unspecified", "pending",   "queued",
                                      "running",     "succeeded", "failed",
                                      "cancelled"};
}  // namespace

const char* ApiStateName(v1::ExperimentState s) {
  return s >= 0 && s < 5 ? kExperimentStates[s] : "unspecified";
}

const char* ApiStateName(v1::JobState s) {
  return s >= 0 && s < 7 ? kJobStates[s] : "unspecified";
}

v1::ExperimentState ApiExperimentState(const std::string& name) {
  for (int i = 1; i < 5; ++i) {
    if (name == kExperimentStates[i])
      return static_cast<v1::ExperimentState>(i);
  }
  return v1::EXPERIMENT_STATE_UNSPECIFIED;
}

v1::JobState ApiJobState(const std::string& name) {
  for (int i = 1; i < 7; ++i) {
    if (name == kJobStates[i]) return static_cast<v1::JobState>(i);
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

}  // namespace ladle
