#include "kernels/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/cpu/ref_ops.h"

namespace ladle {
namespace {

absl::Status CheckSizes(const char* op, std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes) {
    if (s < 0)
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": negative size ", s));
  }
  return absl::OkStatus();
}

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

  absl::Status Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                    float alpha, const float* a, const float* b, float beta,
                    float* c) override {
    return CpuSgemm(gemm_, ta, tb, m, n, k, alpha, a, b, beta, c);
  }
  absl::Status AddBias(float* y, const float* bias, int64_t rows,
                       int64_t cols) override {
    RETURN_IF_ERROR(CheckSizes("add_bias", {rows, cols}));
    ref::AddBias(y, bias, rows, cols);
    return absl::OkStatus();
  }
  absl::Status BiasGrad(const float* dy, int64_t rows, int64_t cols,
                        float* db) override {
    RETURN_IF_ERROR(CheckSizes("bias_grad", {rows, cols}));
    ref::BiasGrad(dy, rows, cols, db);
    return absl::OkStatus();
  }
  absl::Status Axpy(float alpha, const float* x, float* y, int64_t n) override {
    RETURN_IF_ERROR(CheckSizes("axpy", {n}));
    ref::Axpy(alpha, x, y, n);
    return absl::OkStatus();
  }
  absl::Status Fill(float* x, int64_t n, float value) override {
    RETURN_IF_ERROR(CheckSizes("fill", {n}));
    std::fill(x, x + n, value);
    return absl::OkStatus();
  }
  absl::Status ActivationForward(Activation act, const float* x, float* y,
                                 int64_t n) override {
    RETURN_IF_ERROR(CheckSizes("activation", {n}));
    if (act == Activation::kRelu) {
      ref::ReluForward(x, y, n);
    } else {
      ref::GeluForward(x, y, n);
    }
    return absl::OkStatus();
  }
  absl::Status ActivationBackward(Activation act, const float* x,
                                  const float* dy, float* dx,
                                  int64_t n) override {
    RETURN_IF_ERROR(CheckSizes("activation_backward", {n}));
    if (act == Activation::kRelu) {
      ref::ReluBackward(x, dy, dx, n);
    } else {
      ref::GeluBackward(x, dy, dx, n);
    }
    return absl::OkStatus();
  }
  absl::Status DropoutForward(const float* x, float* y, float* mask, int64_t n,
                              float p, uint64_t seed,
                              uint64_t offset) override {
    RETURN_IF_ERROR(CheckSizes("dropout", {n}));
    if (!(p >= 0.0f && p < 1.0f)) {
      return absl::InvalidArgumentError(
          absl::StrCat("dropout: p must be in [0, 1), got ", p));
    }
    ref::DropoutForward(x, y, mask, n, p, seed, offset);
    return absl::OkStatus();
  }
  absl::Status DropoutBackward(const float* dy, const float* mask, float* dx,
                               int64_t n) override {
    RETURN_IF_ERROR(CheckSizes("dropout_backward", {n}));
    ref::DropoutBackward(dy, mask, dx, n);
    return absl::OkStatus();
  }
  absl::Status LayerNormForward(const float* x, const float* gamma,
                                const float* beta, float* y, float* mean,
                                float* rstd, int64_t rows, int64_t cols,
                                float eps) override {
    RETURN_IF_ERROR(CheckSizes("layernorm", {rows, cols}));
    ref::LayerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
    return absl::OkStatus();
  }
  absl::Status LayerNormBackward(const float* x, const float* gamma,
                                 const float* mean, const float* rstd,
                                 const float* dy, float* dx, float* dgamma,
                                 float* dbeta, int64_t rows,
                                 int64_t cols) override {
    RETURN_IF_ERROR(CheckSizes("layernorm_backward", {rows, cols}));
    ref::LayerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows,
                           cols);
    return absl::OkStatus();
  }
  absl::Status SoftmaxCrossEntropy(const float* logits, const int32_t* labels,
                                   int64_t rows, int64_t cols, float grad_scale,
                                   float* row_loss, float* dlogits) override {
    RETURN_IF_ERROR(CheckSizes("softmax_xent", {rows, cols}));
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
  absl::Status SumInto(const float* x, int64_t n, float scale,
                       float* acc) override {
    ref::SumInto(x, n, scale, acc);
    return absl::OkStatus();
  }
  absl::Status ArgmaxRows(const float* logits, int64_t rows, int64_t cols,
                          int32_t* out) override {
    if (cols <= 0)
      return absl::InvalidArgumentError("argmax: cols must be > 0");
    ref::ArgmaxRows(logits, rows, cols, out);
    return absl::OkStatus();
  }
  absl::Status GatherRows(const float* src, const int32_t* index, int64_t rows,
                          int64_t cols, float* dst) override {
    RETURN_IF_ERROR(CheckSizes("gather_rows", {rows, cols}));
#pragma omp parallel for schedule(static) if (rows * cols > ref::kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(dst + r * cols, src + static_cast<int64_t>(index[r]) * cols,
                  sizeof(float) * cols);
    }
    return absl::OkStatus();
  }
  absl::Status GatherLabels(const int32_t* src, const int32_t* index,
                            int64_t rows, int32_t* dst) override {
    for (int64_t r = 0; r < rows; ++r) dst[r] = src[index[r]];
    return absl::OkStatus();
  }
  absl::Status SpMM(const CsrView& a, const float* x, int64_t cols,
                    float* y) override {
    RETURN_IF_ERROR(CheckSizes("spmm", {a.rows, a.cols, cols}));
    ref::SpMM(a.rows, a.row_ptr, a.col_idx, a.values, x, cols, y);
    return absl::OkStatus();
  }
  absl::Status AdamWUpdate(float* param, const float* grad, float* m, float* v,
                           int64_t n, const AdamWParams& hp) override {
    RETURN_IF_ERROR(CheckSizes("adamw", {n}));
    if (hp.step < 1)
      return absl::InvalidArgumentError("adamw: step must be >= 1");
    ref::AdamWUpdate(param, grad, m, v, n, hp.lr, hp.beta1, hp.beta2, hp.eps,
                     hp.weight_decay, hp.step);
    return absl::OkStatus();
  }
  absl::Status SgdUpdate(float* param, const float* grad, float* buf, int64_t n,
                         const SgdParams& hp) override {
    RETURN_IF_ERROR(CheckSizes("sgd", {n}));
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
