#include "kernels/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/cpu/ref_ops.h"

namespace ladle {
namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend(int threads, CpuGemmLibrary gemm)
      : threads_(threads), gemm_(gemm) {
    SetCpuThreads(threads_);
  }

  Device device() const override { return Device{DeviceKind::kCpu, 0}; }
  std::string Describe() const override {
    return absl::StrCat("cpu (", threads_, " threads, gemm ",
                        CpuGemmLibraryName(gemm_), ")");
  }

  absl::StatusOr<void*> Allocate(size_t bytes) override {
    const size_t rounded = ((bytes + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (p == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cpu: cannot allocate ", bytes, " bytes"));
    }
    std::memset(p, 0, rounded);
    ++allocation_count_;
    return p;
  }
  void Free(void* ptr) override { std::free(ptr); }
  absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    std::memcpy(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    std::memmove(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::Status Synchronize() override { return absl::OkStatus(); }

  absl::Status DoGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                      float alpha, const float* a, const float* b, float beta,
                      float* c) override {
    return CpuSgemm(gemm_, ta, tb, m, n, k, alpha, a, b, beta, c);
  }
  absl::Status DoAddBias(float* y, const float* bias, int64_t rows,
                         int64_t cols) override {
    ref::AddBias(y, bias, rows, cols);
    return absl::OkStatus();
  }
  absl::Status DoBiasGrad(const float* dy, int64_t rows, int64_t cols,
                          float* db) override {
    ref::BiasGrad(dy, rows, cols, db);
    return absl::OkStatus();
  }
  absl::Status DoAxpy(float alpha, const float* x, float* y,
                      int64_t n) override {
    ref::Axpy(alpha, x, y, n);
    return absl::OkStatus();
  }
  absl::Status DoFill(float* x, int64_t n, float value) override {
    std::fill(x, x + n, value);
    return absl::OkStatus();
  }
  absl::Status DoActivationForward(Activation act, const float* x, float* y,
                                   int64_t n) override {
    if (act == Activation::kRelu) {
      ref::ReluForward(x, y, n);
    } else {
      ref::GeluForward(x, y, n);
    }
    return absl::OkStatus();
  }
  absl::Status DoActivationBackward(Activation act, const float* x,
                                    const float* dy, float* dx,
                                    int64_t n) override {
    if (act == Activation::kRelu) {
      ref::ReluBackward(x, dy, dx, n);
    } else {
      ref::GeluBackward(x, dy, dx, n);
    }
    return absl::OkStatus();
  }
  absl::Status DoDropoutForward(const float* x, float* y, float* mask,
                                int64_t n, float p, uint64_t seed,
                                uint64_t offset) override {
    ref::DropoutForward(x, y, mask, n, p, seed, offset);
    return absl::OkStatus();
  }
  absl::Status DoDropoutBackward(const float* dy, const float* mask, float* dx,
                                 int64_t n) override {
    ref::DropoutBackward(dy, mask, dx, n);
    return absl::OkStatus();
  }
  absl::Status DoLayerNormForward(const float* x, const float* gamma,
                                  const float* beta, float* y, float* mean,
                                  float* rstd, int64_t rows, int64_t cols,
                                  float eps) override {
    ref::LayerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
    return absl::OkStatus();
  }
  absl::Status DoLayerNormBackward(const float* x, const float* gamma,
                                   const float* mean, const float* rstd,
                                   const float* dy, float* dx, float* dgamma,
                                   float* dbeta, int64_t rows,
                                   int64_t cols) override {
    ref::LayerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows,
                           cols);
    return absl::OkStatus();
  }
  absl::Status DoSoftmaxCrossEntropy(const float* logits, const int32_t* labels,
                                     int64_t rows, int64_t cols,
                                     float grad_scale, float* row_loss,
                                     float* dlogits) override {
    for (int64_t r = 0; r < rows; ++r) {
      if (labels[r] >= cols) {
        return absl::InvalidArgumentError(absl::StrCat("softmax_xent: label ",
                                                       labels[r], " at row ", r,
                                                       " >= classes ", cols));
      }
    }
    ref::SoftmaxCrossEntropy(logits, labels, rows, cols, grad_scale, row_loss,
                             dlogits);
    return absl::OkStatus();
  }
  absl::Status DoSumInto(const float* x, int64_t n, float scale,
                         float* acc) override {
    ref::SumInto(x, n, scale, acc);
    return absl::OkStatus();
  }
  absl::Status DoArgmaxRows(const float* logits, int64_t rows, int64_t cols,
                            int32_t* out) override {
    ref::ArgmaxRows(logits, rows, cols, out);
    return absl::OkStatus();
  }
  absl::Status DoGatherRows(const float* src, const int32_t* index,
                            int64_t rows, int64_t cols, float* dst) override {
#pragma omp parallel for schedule(static) if (rows * cols > ref::kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(dst + r * cols, src + static_cast<int64_t>(index[r]) * cols,
                  sizeof(float) * cols);
    }
    return absl::OkStatus();
  }
  absl::Status DoGatherLabels(const int32_t* src, const int32_t* index,
                              int64_t rows, int32_t* dst) override {
    for (int64_t r = 0; r < rows; ++r) dst[r] = src[index[r]];
    return absl::OkStatus();
  }
  absl::Status DoSpMM(const CsrView& a, const float* x, int64_t cols,
                      float* y) override {
    ref::SpMM(a.rows, a.row_ptr, a.col_idx, a.values, x, cols, y);
    return absl::OkStatus();
  }
  absl::Status DoAdamWUpdate(float* param, const float* grad, float* m,
                             float* v, int64_t n,
                             const AdamWParams& hp) override {
    ref::AdamWUpdate(param, grad, m, v, n, hp.lr, hp.beta1, hp.beta2, hp.eps,
                     hp.weight_decay, hp.step);
    return absl::OkStatus();
  }
  absl::Status DoSgdUpdate(float* param, const float* grad, float* buf,
                           int64_t n, const SgdParams& hp) override {
    ref::SgdUpdate(param, grad, buf, n, hp.lr, hp.momentum, hp.nesterov,
                   hp.weight_decay);
    return absl::OkStatus();
  }

 private:
  const int threads_;
  const CpuGemmLibrary gemm_;
};

}  // namespace

std::unique_ptr<Backend> CreateCpuBackend(int threads, CpuGemmLibrary gemm) {
  if (threads <= 0)
    threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  return std::make_unique<CpuBackend>(threads, gemm);
}

}  // namespace ladle
