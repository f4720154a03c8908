// Plain CPU reference implementations of every op, templated on the scalar type
// so gradient checks run in double and the CPU backend runs them in float.
// Loops are written to vectorize and to give the same result for any thread
// count: every reduction has a fixed order (row-parallel ops reduce within a
// row; column reductions split columns, never rows).
#ifndef LADLE_KERNELS_CPU_REF_OPS_H_
#define LADLE_KERNELS_CPU_REF_OPS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common/random.h"

namespace ladle::ref {

// Work below this many elements stays on one thread (thread start-up costs
// more).
inline constexpr int64_t kParallelGrain = 1 << 14;

// C = alpha op(A) op(B) + beta C, row-major (see Backend::Gemm).
template <typename T>
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha,
          const T* a, const T* b, T beta, T* c) {
#pragma omp parallel for schedule(static) if (m * n * k > kParallelGrain)
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T av = trans_a ? a[p * m + i] : a[i * k + p];
        const T bv = trans_b ? b[j * k + p] : b[p * n + j];
        acc += av * bv;
      }
      c[i * n + j] = alpha * acc + (beta == T(0) ? T(0) : beta * c[i * n + j]);
    }
  }
}

template <typename T>
void AddBias(T* y, const T* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    T* row = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) row[c] += bias[c];
  }
}

// Column sums; columns are split across threads in blocks so each sum has a
// fixed order.
template <typename T>
void BiasGrad(const T* dy, int64_t rows, int64_t cols, T* db) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(cols, c0 + kBlock);
    T acc[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = dy + r * cols;
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += row[c];
    }
    for (int64_t c = c0; c < c1; ++c) db[c] = acc[c - c0];
  }
}

template <typename T>
void Axpy(T alpha, const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// GELU, tanh approximation (as GPT-2 and "Scaling MLPs" use).
template <typename T>
inline T Gelu(T x) {
  const T k = T(0.7978845608028654);  // sqrt(2/pi)
  return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
}
template <typename T>
inline T GeluGrad(T x) {
  const T k = T(0.7978845608028654);
  const T t = std::tanh(k * (x + T(0.044715) * x * x * x));
  return T(0.5) * (T(1) + t) +
         T(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3 * 0.044715) * x * x);
}

template <typename T>
void ReluForward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}
template <typename T>
void ReluBackward(const T* x, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) dx[i] = x[i] > T(0) ? dy[i] : T(0);
}
template <typename T>
void GeluForward(const T* x, T* y, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = Gelu(x[i]);
}
template <typename T>
void GeluBackward(const T* x, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * GeluGrad(x[i]);
}

template <typename T>
void DropoutForward(const T* x, T* y, T* mask, int64_t n, float p,
                    uint64_t seed, uint64_t offset) {
  const T scale = p < 1.0f ? T(1) / (T(1) - T(p)) : T(0);
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const bool keep =
        CounterUniform(seed, offset + static_cast<uint64_t>(i)) >= p;
    mask[i] = keep ? scale : T(0);
    y[i] = x[i] * mask[i];
  }
}
template <typename T>
void DropoutBackward(const T* dy, const T* mask, T* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * mask[i];
}

template <typename T>
void LayerNormForward(const T* x, const T* gamma, const T* beta, T* y, T* mean,
                      T* rstd, int64_t rows, int64_t cols, T eps) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += xr[c];
    const T mu = sum / T(cols);
    T var = 0;
    for (int64_t c = 0; c < cols; ++c) var += (xr[c] - mu) * (xr[c] - mu);
    var /= T(cols);
    const T rs = T(1) / std::sqrt(var + eps);
    T* yr = y + r * cols;
    for (int64_t c = 0; c < cols; ++c)
      yr[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

template <typename T>
void LayerNormBackward(const T* x, const T* gamma, const T* mean, const T* rstd,
                       const T* dy, T* dx, T* dgamma, T* dbeta, int64_t rows,
                       int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const T* dyr = dy + r * cols;
    const T mu = mean[r], rs = rstd[r];
    T sum_dxhat = 0, sum_dxhat_xhat = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const T xhat = (xr[c] - mu) * rs;
      const T dxhat = dyr[c] * gamma[c];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * xhat;
    }
    const T inv_n = T(1) / T(cols);
    T* dxr = dx + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const T xhat = (xr[c] - mu) * rs;
      const T dxhat = dyr[c] * gamma[c];
      dxr[c] = rs * (dxhat - sum_dxhat * inv_n - xhat * sum_dxhat_xhat * inv_n);
    }
  }
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(cols, c0 + kBlock);
    T dg[kBlock] = {}, db[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * cols;
      const T* dyr = dy + r * cols;
      for (int64_t c = c0; c < c1; ++c) {
        dg[c - c0] += dyr[c] * (xr[c] - mean[r]) * rstd[r];
        db[c - c0] += dyr[c];
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      dgamma[c] = dg[c - c0];
      dbeta[c] = db[c - c0];
    }
  }
}

template <typename T>
void SoftmaxCrossEntropy(const T* logits, const int32_t* labels, int64_t rows,
                         int64_t cols, T grad_scale, T* row_loss, T* dlogits) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* lr = logits + r * cols;
    const int32_t label = labels[r];
    if (label < 0) {
      row_loss[r] = 0;
      if (dlogits != nullptr)
        std::fill(dlogits + r * cols, dlogits + (r + 1) * cols, T(0));
      continue;
    }
    T mx = lr[0];
    for (int64_t c = 1; c < cols; ++c) mx = std::max(mx, lr[c]);
    T sum = 0;
    for (int64_t c = 0; c < cols; ++c) sum += std::exp(lr[c] - mx);
    const T log_sum = std::log(sum);
    row_loss[r] = log_sum - (lr[label] - mx);
    if (dlogits != nullptr) {
      T* dr = dlogits + r * cols;
      const T inv = T(1) / sum;
      for (int64_t c = 0; c < cols; ++c) {
        const T prob = std::exp(lr[c] - mx) * inv;
        dr[c] = (prob - (c == label ? T(1) : T(0))) * grad_scale;
      }
    }
  }
}

template <typename T>
void SumInto(const T* x, int64_t n, T scale, T* acc) {
  // Pairwise-free but ordered: a double accumulator keeps float sums accurate.
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  *acc += static_cast<T>(scale * s);
}

template <typename T>
void ArgmaxRows(const T* logits, int64_t rows, int64_t cols, int32_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* lr = logits + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c)
      if (lr[c] > lr[best]) best = c;
    out[r] = static_cast<int32_t>(best);
  }
}

template <typename T>
void SpMM(int64_t rows, const int32_t* row_ptr, const int32_t* col_idx,
          const T* values, const T* x, int64_t cols, T* y) {
#pragma omp parallel for schedule(dynamic, 64) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    T* yr = y + r * cols;
    std::fill(yr, yr + cols, T(0));
    for (int32_t p = row_ptr[r]; p < row_ptr[r + 1]; ++p) {
      const T w = values[p];
      const T* xr = x + static_cast<int64_t>(col_idx[p]) * cols;
      for (int64_t c = 0; c < cols; ++c) yr[c] += w * xr[c];
    }
  }
}

template <typename T>
void AdamWUpdate(T* param, const T* grad, T* m, T* v, int64_t n, T lr, T beta1,
                 T beta2, T eps, T weight_decay, int64_t step) {
  const T bc1 = T(1) - std::pow(beta1, static_cast<T>(step));
  const T bc2 = T(1) - std::pow(beta2, static_cast<T>(step));
  const T step_size = lr / bc1;
  const T inv_sqrt_bc2 = T(1) / std::sqrt(bc2);
  const T decay = T(1) - lr * weight_decay;
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i];
    const T mi = beta1 * m[i] + (T(1) - beta1) * g;
    const T vi = beta2 * v[i] + (T(1) - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * decay -
               step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
}

template <typename T>
void SgdUpdate(T* param, const T* grad, T* buf, int64_t n, T lr, T momentum,
               bool nesterov, T weight_decay) {
#pragma omp parallel for simd schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i] + weight_decay * param[i];
    T d = g;
    if (momentum != T(0)) {
      const T b = momentum * buf[i] + g;
      buf[i] = b;
      d = nesterov ? g + momentum * b : b;
    }
    param[i] -= lr * d;
  }
}

}  // namespace ladle::ref

#endif  // LADLE_KERNELS_CPU_REF_OPS_H_
