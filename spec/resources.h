// What one job asks of a worker: the `resources:` section of a spec, and what
// the scheduler places by.
#ifndef LADLE_SPEC_RESOURCES_H_
#define LADLE_SPEC_RESOURCES_H_

#include <cstdint>

namespace ladle {

struct Resources {
  int gpus = 0;
  int cpu_slots = 1;
  // The most memory a job's processes may use; 0: no limit. The worker
  // enforces it (kind command).
  int64_t memory_bytes = 0;
  // Processes started together as one gang (kind command's `ranks`), each
  // with gpus and cpu_slots of its own: placed all at once, possibly on
  // several workers, or not at all.
  int ranks = 1;
  // A fraction of one GPU in thousandths (`gpus: 0.25` is 250, with gpus 0):
  // jobs with shares are packed onto one device, never past 1000 on it.
  int gpu_share_milli = 0;
};

}  // namespace ladle

#endif  // LADLE_SPEC_RESOURCES_H_
