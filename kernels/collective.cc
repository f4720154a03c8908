// Built without CUDA: there is no GPU collective to create.
#include "kernels/collective.h"

namespace ladle {

absl::StatusOr<std::unique_ptr<Collective>> CreateNcclCollective(
    const std::vector<Backend*>&) {
  return absl::FailedPreconditionError(
      "NCCL collective: this build has no CUDA backend (rebuild with "
      "-DLADLE_CUDA=ON on a machine with nvcc)");
}

}  // namespace ladle
