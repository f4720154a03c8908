#include "kernels/backend.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/cpu/cpu_backend.h"
#ifdef LADLE_HAVE_CUDA
#include "kernels/cuda/cuda_backend.h"
#endif

namespace ladle {
namespace {

absl::Status NonNegative(const char* op, std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes) {
    if (s < 0)
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": negative size ", s));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Backend::Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n,
                           int64_t k, float alpha, const float* a,
                           const float* b, float beta, float* c) {
  RETURN_IF_ERROR(NonNegative("gemm", {m, n, k}));
  return DoGemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

absl::Status Backend::AddBias(float* y, const float* bias, int64_t rows,
                              int64_t cols) {
  RETURN_IF_ERROR(NonNegative("add_bias", {rows, cols}));
  return DoAddBias(y, bias, rows, cols);
}

absl::Status Backend::BiasGrad(const float* dy, int64_t rows, int64_t cols,
                               float* db) {
  RETURN_IF_ERROR(NonNegative("bias_grad", {rows, cols}));
  return DoBiasGrad(dy, rows, cols, db);
}

absl::Status Backend::Axpy(float alpha, const float* x, float* y, int64_t n) {
  RETURN_IF_ERROR(NonNegative("axpy", {n}));
  return DoAxpy(alpha, x, y, n);
}

absl::Status Backend::Fill(float* x, int64_t n, float value) {
  RETURN_IF_ERROR(NonNegative("fill", {n}));
  return DoFill(x, n, value);
}

absl::Status Backend::ActivationForward(Activation act, const float* x,
                                        float* y, int64_t n) {
  RETURN_IF_ERROR(NonNegative("activation", {n}));
  return DoActivationForward(act, x, y, n);
}

absl::Status Backend::ActivationBackward(Activation act, const float* x,
                                         const float* dy, float* dx,
                                         int64_t n) {
  RETURN_IF_ERROR(NonNegative("activation_backward", {n}));
  return DoActivationBackward(act, x, dy, dx, n);
}

absl::Status Backend::DropoutForward(const float* x, float* y, float* mask,
                                     int64_t n, float p, uint64_t seed,
                                     uint64_t offset) {
  RETURN_IF_ERROR(NonNegative("dropout", {n}));
  if (!(p >= 0.0f && p < 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dropout: p must be in [0, 1), got ", p));
  }
  return DoDropoutForward(x, y, mask, n, p, seed, offset);
}

absl::Status Backend::DropoutBackward(const float* dy, const float* mask,
                                      float* dx, int64_t n) {
  RETURN_IF_ERROR(NonNegative("dropout_backward", {n}));
  return DoDropoutBackward(dy, mask, dx, n);
}

absl::Status Backend::LayerNormForward(const float* x, const float* gamma,
                                       const float* beta, float* y, float* mean,
                                       float* rstd, int64_t rows, int64_t cols,
                                       float eps) {
  RETURN_IF_ERROR(NonNegative("layernorm", {rows, cols}));
  return DoLayerNormForward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
}

absl::Status Backend::LayerNormBackward(const float* x, const float* gamma,
                                        const float* mean, const float* rstd,
                                        const float* dy, float* dx,
                                        float* dgamma, float* dbeta,
                                        int64_t rows, int64_t cols) {
  RETURN_IF_ERROR(NonNegative("layernorm_backward", {rows, cols}));
  return DoLayerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows,
                             cols);
}

absl::Status Backend::SoftmaxCrossEntropy(const float* logits,
                                          const int32_t* labels, int64_t rows,
                                          int64_t cols, float grad_scale,
                                          float* row_loss, float* dlogits) {
  RETURN_IF_ERROR(NonNegative("softmax_xent", {rows, cols}));
  return DoSoftmaxCrossEntropy(logits, labels, rows, cols, grad_scale, row_loss,
                               dlogits);
}

absl::Status Backend::SumInto(const float* x, int64_t n, float scale,
                              float* acc) {
  RETURN_IF_ERROR(NonNegative("sum_into", {n}));
  return DoSumInto(x, n, scale, acc);
}

absl::Status Backend::ArgmaxRows(const float* logits, int64_t rows,
                                 int64_t cols, int32_t* out) {
  RETURN_IF_ERROR(NonNegative("argmax", {rows}));
  if (cols <= 0) return absl::InvalidArgumentError("argmax: cols must be > 0");
  return DoArgmaxRows(logits, rows, cols, out);
}

absl::Status Backend::GatherRows(const float* src, const int32_t* index,
                                 int64_t rows, int64_t cols, float* dst) {
  RETURN_IF_ERROR(NonNegative("gather_rows", {rows, cols}));
  return DoGatherRows(src, index, rows, cols, dst);
}

absl::Status Backend::GatherLabels(const int32_t* src, const int32_t* index,
                                   int64_t rows, int32_t* dst) {
  RETURN_IF_ERROR(NonNegative("gather_labels", {rows}));
  return DoGatherLabels(src, index, rows, dst);
}

absl::Status Backend::SpMM(const CsrView& a, const float* x, int64_t cols,
                           float* y) {
  RETURN_IF_ERROR(NonNegative("spmm", {a.rows, a.cols, cols}));
  return DoSpMM(a, x, cols, y);
}

absl::Status Backend::AdamWUpdate(float* param, const float* grad, float* m,
                                  float* v, int64_t n, const AdamWParams& hp) {
  RETURN_IF_ERROR(NonNegative("adamw", {n}));
  if (hp.step < 1)
    return absl::InvalidArgumentError("adamw: step must be >= 1");
  return DoAdamWUpdate(param, grad, m, v, n, hp);
}

absl::Status Backend::SgdUpdate(float* param, const float* grad,
                                float* momentum_buf, int64_t n,
                                const SgdParams& hp) {
  RETURN_IF_ERROR(NonNegative("sgd", {n}));
  return DoSgdUpdate(param, grad, momentum_buf, n, hp);
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const Device& device,
                                                       int threads) {
  if (device.kind == DeviceKind::kCpu) return CreateCpuBackend(threads);
#ifdef LADLE_HAVE_CUDA
  return CreateCudaBackend(device.index);
#else
  return absl::FailedPreconditionError(
      "device: cuda was asked for but this build has no CUDA backend; use "
      "device: cpu");
#endif
}

}  // namespace ladle
