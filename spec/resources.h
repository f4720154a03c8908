// What one job asks of a worker: the `resources:` section of a spec, and what
// the scheduler places by.
#ifndef LADLE_SPEC_RESOURCES_H_
#define LADLE_SPEC_RESOURCES_H_

namespace ladle {

struct Resources {
  int gpus = 0;
  int cpu_slots = 1;
};

}  // namespace ladle

#endif  // LADLE_SPEC_RESOURCES_H_
