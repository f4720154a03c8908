// Collectives across the ranks of one process, each rank a Backend on its own
// device: the all-reduce and broadcast of data-parallel training.
//
// Contract: one thread drives a Collective (not thread-safe). Each call
// enqueues every rank's part on that rank's stream, after the work already
// enqueued there, and returns without waiting; the result is ready on a rank
// once its backend is synchronised. The buffers stay owned by the caller and
// must hold `n` floats on the matching rank's device. On error nothing is
// guaranteed about the buffers' contents.
#ifndef LADLE_KERNELS_COLLECTIVE_H_
#define LADLE_KERNELS_COLLECTIVE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/backend.h"

namespace ladle {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int ranks() const = 0;
  // Library and version, e.g. "NCCL 2.27.7".
  virtual std::string Describe() const = 0;
  // bufs[r][i] ← Σ_r' bufs[r'][i] on every rank, in place.
  virtual absl::Status AllReduceSum(const std::vector<float*>& bufs,
                                    int64_t n) = 0;
  // bufs[r] ← bufs[root] on every rank.
  virtual absl::Status Broadcast(const std::vector<float*>& bufs, int64_t n,
                                 int root) = 0;
};

// NCCL across CUDA backends, one rank per GPU (rank r = ranks[r]). The
// backends are borrowed and must outlive the Collective. NCCL is loaded at
// run time (libnccl.so.2), so binaries without it still run everything else.
// FAILED_PRECONDITION, naming the cause, when the binary was built without
// CUDA, NCCL cannot be loaded, a backend is not a CUDA one, or two ranks share
// a GPU (NCCL refuses duplicate devices in one communicator).
absl::StatusOr<std::unique_ptr<Collective>> CreateNcclCollective(
    const std::vector<Backend*>& ranks);

}  // namespace ladle

#endif  // LADLE_KERNELS_COLLECTIVE_H_
