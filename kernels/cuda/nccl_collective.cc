// NCCL collectives, loaded at run time. Linking libnccl directly would make
// every binary that holds the training core need NCCL installed, GPU or not;
// dlopen keeps it a run-time requirement of multi-GPU data parallelism only.
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include <mutex>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/collective.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_status.h"

namespace ladle {
namespace {

// The NCCL entry points Ladle uses, resolved once per process.
struct NcclApi {
  decltype(&ncclGetVersion) get_version = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
  decltype(&ncclCommInitAll) comm_init_all = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclGroupStart) group_start = nullptr;
  decltype(&ncclGroupEnd) group_end = nullptr;
  std::string error;  // why loading failed; empty when loaded
};

const NcclApi& Nccl() {
  static const NcclApi* api = [] {
    auto* a = new NcclApi;
    void* lib = nullptr;
    std::string tried;
    // The loader's search path first (LD_LIBRARY_PATH, ldconfig), then where
    // the CUDA toolkit keeps it.
    for (const char* name :
         {"libnccl.so.2", "libnccl.so", "/usr/local/cuda/lib/libnccl.so.2",
          "/usr/local/cuda/lib64/libnccl.so.2"}) {
      lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
      if (lib != nullptr) break;
      absl::StrAppend(&tried, tried.empty() ? "" : "; ", dlerror());
    }
    if (lib == nullptr) {
      a->error = absl::StrCat(
          "NCCL could not be loaded (", tried,
          "); install NCCL or put libnccl.so.2 on LD_LIBRARY_PATH");
      return a;
    }
    auto load = [&](auto* fn, const char* symbol) {
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(
          dlsym(lib, symbol));
      if (*fn == nullptr && a->error.empty()) {
        a->error = absl::StrCat("NCCL library lacks ", symbol);
      }
    };
    load(&a->get_version, "ncclGetVersion");
    load(&a->error_string, "ncclGetErrorString");
    load(&a->comm_init_all, "ncclCommInitAll");
    load(&a->comm_destroy, "ncclCommDestroy");
    load(&a->all_reduce, "ncclAllReduce");
    load(&a->broadcast, "ncclBroadcast");
    load(&a->group_start, "ncclGroupStart");
    load(&a->group_end, "ncclGroupEnd");
    return a;
  }();
  return *api;
}

absl::Status NcclStatus(ncclResult_t r, const char* expr, const char* file,
                        int line) {
  if (r == ncclSuccess) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(file, ":", line, ": ", expr, ": ", Nccl().error_string(r)));
}

#define NCCL_RETURN_IF_ERROR(expr)                     \
  do {                                                 \
    const ::absl::Status ladle_nccl_st_ =              \
        NcclStatus((expr), #expr, __FILE__, __LINE__); \
    if (!ladle_nccl_st_.ok()) return ladle_nccl_st_;   \
  } while (0)

class NcclCollective final : public Collective {
 public:
  NcclCollective(std::vector<Backend*> ranks, std::vector<ncclComm_t> comms)
      : ranks_(std::move(ranks)), comms_(std::move(comms)) {}
  ~NcclCollective() override {
    for (ncclComm_t c : comms_) Nccl().comm_destroy(c);
  }

  int ranks() const override { return static_cast<int>(ranks_.size()); }
  std::string Describe() const override {
    int v = 0;
    Nccl().get_version(&v);
    return absl::StrCat("NCCL ", v / 10000, ".", v % 10000 / 100, ".", v % 100);
  }

  absl::Status AllReduceSum(const std::vector<float*>& bufs,
                            int64_t n) override {
    RETURN_IF_ERROR(CheckBuffers(bufs, n));
    return Group([&](size_t r) {
      NCCL_RETURN_IF_ERROR(Nccl().all_reduce(
          bufs[r], bufs[r], static_cast<size_t>(n), ncclFloat, ncclSum,
          comms_[r], static_cast<cudaStream_t>(CudaStreamOf(ranks_[r]))));
      return absl::OkStatus();
    });
  }

  absl::Status Broadcast(const std::vector<float*>& bufs, int64_t n,
                         int root) override {
    RETURN_IF_ERROR(CheckBuffers(bufs, n));
    if (root < 0 || root >= ranks()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Broadcast: root ", root, " outside 0..", ranks() - 1));
    }
    return Group([&](size_t r) {
      NCCL_RETURN_IF_ERROR(Nccl().broadcast(
          bufs[r], bufs[r], static_cast<size_t>(n), ncclFloat, root, comms_[r],
          static_cast<cudaStream_t>(CudaStreamOf(ranks_[r]))));
      return absl::OkStatus();
    });
  }

 private:
  absl::Status CheckBuffers(const std::vector<float*>& bufs, int64_t n) const {
    if (bufs.size() != ranks_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("collective: ", bufs.size(), " buffers for ",
                       ranks_.size(), " ranks"));
    }
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("collective: negative count ", n));
    }
    return absl::OkStatus();
  }

  // One thread issues every rank's call: NCCL needs them inside one group.
  template <typename PerRank>
  absl::Status Group(PerRank per_rank) {
    NCCL_RETURN_IF_ERROR(Nccl().group_start());
    absl::Status st;
    for (size_t r = 0; r < ranks_.size() && st.ok(); ++r) {
      st = ranks_[r]->MakeCurrent();
      if (st.ok()) st = per_rank(r);
    }
    const absl::Status end =
        NcclStatus(Nccl().group_end(), "ncclGroupEnd()", __FILE__, __LINE__);
    RETURN_IF_ERROR(st);
    return end;
  }

  std::vector<Backend*> ranks_;
  std::vector<ncclComm_t> comms_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Collective>> CreateNcclCollective(
    const std::vector<Backend*>& ranks) {
  if (ranks.empty()) {
    return absl::InvalidArgumentError("NCCL collective: no ranks");
  }
  std::vector<int> devices;
  std::set<int> seen;
  for (size_t r = 0; r < ranks.size(); ++r) {
    if (CudaStreamOf(ranks[r]) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("NCCL collective: rank ", r, " is on ",
                       ranks[r]->device().ToString(), ", not a CUDA device"));
    }
    const int d = ranks[r]->device().index;
    if (!seen.insert(d).second) {
      return absl::FailedPreconditionError(
          absl::StrCat("NCCL collective: ranks share cuda:", d,
                       "; NCCL runs one rank per GPU"));
    }
    devices.push_back(d);
  }
  const NcclApi& api = Nccl();
  if (!api.error.empty()) return absl::FailedPreconditionError(api.error);
  std::vector<ncclComm_t> comms(ranks.size());
  NCCL_RETURN_IF_ERROR(api.comm_init_all(
      comms.data(), static_cast<int>(comms.size()), devices.data()));
  return std::unique_ptr<Collective>(
      new NcclCollective(ranks, std::move(comms)));
}

}  // namespace ladle
