// libFuzzer target: arbitrary bytes as a trial spec and as an experiment spec
// (every kind's planner included). Must never crash, hang or trip ASan/UBSan;
// errors are fine. Built by tests/fuzz/run.sh with clang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "spec/experiment.h"
#include "spec/kind.h"
#include "spec/train_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ladle::TrainSpec> trial = ladle::ParseTrainSpec(text);
  if (trial.ok()) {
    // The resolved form must parse back.
    (void)ladle::ParseTrainSpec(ladle::SpecToJson(*trial).dump());
  }
  ladle::ParseOptions options;
  options.max_jobs = 64;  // bounded work per input
  absl::StatusOr<ladle::ExperimentSpec> spec =
      ladle::ParseExperimentSpec(text, options);
  if (spec.ok()) {
    (void)ladle::PlanExperiment(*spec);
  }
  return 0;
}
