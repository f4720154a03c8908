// The compute backend interface: memory and the ops training needs, on one
// device.
//
// All tensors are dense row-major fp32 (labels and indices int32) in the
// backend's own memory; pointers passed to ops must come from this backend's
// Allocate. Ops are asynchronous on devices that queue work (CUDA): results are
// visible to the host after a copy back or Synchronize(). Every op checks its
// arguments and returns INVALID_ARGUMENT on bad shapes; device errors come back
// as INTERNAL with file:line. On error outputs are unspecified.
//
// Thread safety: a Backend is used by one thread at a time.
//
// Each op has a plain CPU reference in kernels/cpu/ref_ops.h; the CPU backend
// runs those (GEMM goes to a BLAS library), the CUDA backend is tested against
// them.
#ifndef LADLE_KERNELS_BACKEND_H_
#define LADLE_KERNELS_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kernels/device.h"
#include "spec/config.h"

namespace ladle {

// A sparse matrix in CSR form in backend memory (see DeviceCsr in
// kernels/tensor.h).
struct CsrView {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t nnz = 0;
  const int32_t* row_ptr = nullptr;  // rows + 1
  const int32_t* col_idx = nullptr;  // nnz
  const float* values = nullptr;     // nnz
};

struct AdamWParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  int64_t step = 1;  // 1-based, for bias correction.
};

struct SgdParams {
  float lr = 0.1f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;
};

// Ops are non-virtual: each checks its arguments once (INVALID_ARGUMENT names
// the op and the value) and calls the backend's Do* (ggml's pattern), so no
// backend repeats the checks.
class Backend {
 public:
  virtual ~Backend() = default;

  virtual Device device() const = 0;
  // Binds the calling thread to this backend's device (CUDA: cudaSetDevice,
  // which is per thread). Call it first in every thread that uses a backend of
  // a device other than the thread's current one; a no-op on the CPU.
  virtual absl::Status MakeCurrent() { return absl::OkStatus(); }
  // A short description (library versions, threads) for summaries and logs.
  virtual std::string Describe() const = 0;

  // --- Memory
  // ---------------------------------------------------------------------------
  // Returns zero-initialised memory of at least `bytes`; counted by
  // allocation_count().
  virtual absl::StatusOr<void*> Allocate(size_t bytes) = 0;
  virtual void Free(void* ptr) = 0;
  virtual absl::Status CopyToDevice(void* dst, const void* host_src,
                                    size_t bytes) = 0;
  virtual absl::Status CopyToHost(void* host_dst, const void* src,
                                  size_t bytes) = 0;
  virtual absl::Status CopyOnDevice(void* dst, const void* src,
                                    size_t bytes) = 0;
  virtual absl::Status Synchronize() = 0;
  // Number of Allocate calls so far: lets tests prove a training step allocates
  // nothing.
  int64_t allocation_count() const { return allocation_count_; }

  // --- Dense linear algebra
  // ---------------------------------------------------------------- C[m,n] =
  // alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major and contiguous:
  // A is [m,k] (or [k,m] when trans_a), B is [k,n] (or [n,k] when trans_b).
  absl::Status Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                    float alpha, const float* a, const float* b, float beta,
                    float* c);
  // y[r,c] += bias[c].
  absl::Status AddBias(float* y, const float* bias, int64_t rows, int64_t cols);
  // db[c] = sum_r dy[r,c] (overwrites).
  absl::Status BiasGrad(const float* dy, int64_t rows, int64_t cols, float* db);
  // y += alpha * x.
  absl::Status Axpy(float alpha, const float* x, float* y, int64_t n);
  absl::Status Fill(float* x, int64_t n, float value);

  // --- Elementwise
  // ------------------------------------------------------------------------
  absl::Status ActivationForward(Activation act, const float* x, float* y,
                                 int64_t n);
  // dx = dy * act'(x); dx may alias dy.
  absl::Status ActivationBackward(Activation act, const float* x,
                                  const float* dy, float* dx, int64_t n);
  // mask[i] = keep ? 1/(1-p) : 0 with keep iff CounterUniform(seed, offset + i)
  // >= p; y = x * mask. y may alias x.
  absl::Status DropoutForward(const float* x, float* y, float* mask, int64_t n,
                              float p, uint64_t seed, uint64_t offset);
  // dx = dy * mask; dx may alias dy.
  absl::Status DropoutBackward(const float* dy, const float* mask, float* dx,
                               int64_t n);

  // --- Normalisation
  // ---------------------------------------------------------------------- Per
  // row: y = (x - mean) * rstd * gamma + beta; saves mean[rows], rstd[rows].
  absl::Status LayerNormForward(const float* x, const float* gamma,
                                const float* beta, float* y, float* mean,
                                float* rstd, int64_t rows, int64_t cols,
                                float eps);
  // dx (overwrites), dgamma and dbeta (overwrite).
  absl::Status LayerNormBackward(const float* x, const float* gamma,
                                 const float* mean, const float* rstd,
                                 const float* dy, float* dx, float* dgamma,
                                 float* dbeta, int64_t rows, int64_t cols);

  // --- Loss and metrics
  // ------------------------------------------------------------------- Fused
  // softmax cross-entropy. Rows whose label is < 0 are ignored (loss 0,
  // gradient 0). A label >= cols is INVALID_ARGUMENT on the CPU; the CUDA
  // backend (which cannot check without a device sync) ignores such rows.
  // Datasets are validated when loaded. row_loss[r] = -log
  // softmax(logits[r])[label[r]]; dlogits[r] = (softmax(logits[r]) -
  // onehot(label[r])) * grad_scale. dlogits may be null.
  absl::Status SoftmaxCrossEntropy(const float* logits, const int32_t* labels,
                                   int64_t rows, int64_t cols, float grad_scale,
                                   float* row_loss, float* dlogits);
  // *acc += scale * sum(x[0..n)), summed in a fixed order (deterministic).
  absl::Status SumInto(const float* x, int64_t n, float scale, float* acc);
  // out[r] = argmax_c logits[r,c] (first on ties).
  absl::Status ArgmaxRows(const float* logits, int64_t rows, int64_t cols,
                          int32_t* out);

  // --- Data movement
  // ----------------------------------------------------------------------
  // dst[i,:] = src[index[i],:] for i < rows.
  absl::Status GatherRows(const float* src, const int32_t* index, int64_t rows,
                          int64_t cols, float* dst);
  absl::Status GatherLabels(const int32_t* src, const int32_t* index,
                            int64_t rows, int32_t* dst);

  // --- Sparse
  // -----------------------------------------------------------------------------
  // y[a.rows, cols] = A * x[a.cols, cols] (overwrites y).
  absl::Status SpMM(const CsrView& a, const float* x, int64_t cols, float* y);

  // --- Optimizers (PyTorch semantics)
  // ---------------------------------------------------- Decoupled weight
  // decay: p -= lr*wd*p; Adam moments m, v; bias-corrected update.
  absl::Status AdamWUpdate(float* param, const float* grad, float* m, float* v,
                           int64_t n, const AdamWParams& hp);
  // g' = g + wd*p; buf = momentum*buf + g'; step = nesterov ? g' + momentum*buf
  // : buf.
  absl::Status SgdUpdate(float* param, const float* grad, float* momentum_buf,
                         int64_t n, const SgdParams& hp);

 protected:
  // The ops as each backend implements them, called with arguments already
  // checked (sizes >= 0, p in [0, 1), argmax cols > 0, adamw step >= 1):
  // the public methods above check once, in front of every backend.
  virtual absl::Status DoGemm(bool trans_a, bool trans_b, int64_t m, int64_t n,
                              int64_t k, float alpha, const float* a,
                              const float* b, float beta, float* c) = 0;
  virtual absl::Status DoAddBias(float* y, const float* bias, int64_t rows,
                                 int64_t cols) = 0;
  virtual absl::Status DoBiasGrad(const float* dy, int64_t rows, int64_t cols,
                                  float* db) = 0;
  virtual absl::Status DoAxpy(float alpha, const float* x, float* y,
                              int64_t n) = 0;
  virtual absl::Status DoFill(float* x, int64_t n, float value) = 0;
  virtual absl::Status DoActivationForward(Activation act, const float* x,
                                           float* y, int64_t n) = 0;
  virtual absl::Status DoActivationBackward(Activation act, const float* x,
                                            const float* dy, float* dx,
                                            int64_t n) = 0;
  virtual absl::Status DoDropoutForward(const float* x, float* y, float* mask,
                                        int64_t n, float p, uint64_t seed,
                                        uint64_t offset) = 0;
  virtual absl::Status DoDropoutBackward(const float* dy, const float* mask,
                                         float* dx, int64_t n) = 0;
  virtual absl::Status DoLayerNormForward(const float* x, const float* gamma,
                                          const float* beta, float* y,
                                          float* mean, float* rstd,
                                          int64_t rows, int64_t cols,
                                          float eps) = 0;
  virtual absl::Status DoLayerNormBackward(const float* x, const float* gamma,
                                           const float* mean, const float* rstd,
                                           const float* dy, float* dx,
                                           float* dgamma, float* dbeta,
                                           int64_t rows, int64_t cols) = 0;
  virtual absl::Status DoSoftmaxCrossEntropy(const float* logits,
                                             const int32_t* labels,
                                             int64_t rows, int64_t cols,
                                             float grad_scale, float* row_loss,
                                             float* dlogits) = 0;
  virtual absl::Status DoSumInto(const float* x, int64_t n, float scale,
                                 float* acc) = 0;
  virtual absl::Status DoArgmaxRows(const float* logits, int64_t rows,
                                    int64_t cols, int32_t* out) = 0;
  virtual absl::Status DoGatherRows(const float* src, const int32_t* index,
                                    int64_t rows, int64_t cols, float* dst) = 0;
  virtual absl::Status DoGatherLabels(const int32_t* src, const int32_t* index,
                                      int64_t rows, int32_t* dst) = 0;
  virtual absl::Status DoSpMM(const CsrView& a, const float* x, int64_t cols,
                              float* y) = 0;
  virtual absl::Status DoAdamWUpdate(float* param, const float* grad, float* m,
                                     float* v, int64_t n,
                                     const AdamWParams& hp) = 0;
  virtual absl::Status DoSgdUpdate(float* param, const float* grad,
                                   float* momentum_buf, int64_t n,
                                   const SgdParams& hp) = 0;

  int64_t allocation_count_ = 0;
};

// Creates the backend for `device`. `threads` applies to the CPU backend (0 =
// all cores).
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const Device& device,
                                                       int threads);

}  // namespace ladle

#endif  // LADLE_KERNELS_BACKEND_H_
