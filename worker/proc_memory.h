// Resident memory of a process group, read from /proc: how the worker holds a
// job to resources.memory_bytes where it cannot put it in a cgroup (v2 with
// the memory controller delegated). RLIMIT_AS is not used: it limits address
// space, which PyTorch, CUDA and JVMs reserve far beyond what they touch, so
// healthy programs would fail under it.
#ifndef LADLE_WORKER_PROC_MEMORY_H_
#define LADLE_WORKER_PROC_MEMORY_H_

#include <sys/types.h>

#include <cstdint>

namespace ladle {

// The summed resident set of every process whose process group is `pgid`
// (0 when there is none). Scans /proc: about a millisecond per call.
int64_t GroupResidentBytes(pid_t pgid);

}  // namespace ladle

#endif  // LADLE_WORKER_PROC_MEMORY_H_
