// CUDA backend: cuBLAS for GEMM, one __global__ kernel plus a checking host
// launcher for every other op. Every reduction has a fixed order (no atomics),
// so results are deterministic run to run. Nothing is allocated inside a
// training step: ops only launch into caller-owned memory.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_status.h"

namespace ladle {

int CudaDeviceCountImpl() {
  int count = 0;
  // No driver or no GPU: the runtime reports an error; treat it as zero
  // devices.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return count;
}

namespace {

constexpr int kThreads = 256;

inline unsigned Blocks(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>(
      std::min<int64_t>((n + threads - 1) / threads, 65535 * 8));
}

// Grid-stride loop over [0, n).
#define GRID_LOOP(i, n)                                                     \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); \
       i += int64_t{blockDim.x} * gridDim.x)

__device__ inline float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ inline float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Rows in the grid's y dimension, columns in x: no 64-bit division per
// element (a modulo by cols cost as much as the memory traffic).
__global__ void AddBiasKernel(float* y, const float* bias, int64_t rows,
                              int64_t cols) {
  for (int64_t c = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; c < cols;
       c += int64_t{blockDim.x} * gridDim.x) {
    const float b = bias[c];
    for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) y[r * cols + c] += b;
  }
}

// Column sums of dy[rows, cols] in tiles of 32 columns: thread (x, y) of a
// 32×32 block sums rows y, y+32, y+64, … of column x (warps read whole
// 128-byte row segments), then the 32 partial sums of a column are added in
// lane order. A fixed order throughout, so deterministic; and enough blocks to
// fill the GPU (one thread per column ran a 4096×4096 bias gradient on 16
// blocks at a few percent of the memory bandwidth).
constexpr int kColTile = 32;
__global__ void ColumnSumKernel(const float* dy, int64_t rows, int64_t cols,
                                float* db) {
  __shared__ float partial[kColTile][kColTile + 1];
  const int64_t c = blockIdx.x * int64_t{kColTile} + threadIdx.x;
  float acc = 0.0f;
  if (c < cols) {
    for (int64_t r = threadIdx.y; r < rows; r += kColTile)
      acc += dy[r * cols + c];
  }
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float sum = 0.0f;
    for (int i = 0; i < kColTile; ++i) sum += partial[i][threadIdx.x];
    db[c] = sum;
  }
}

__global__ void AxpyKernel(float alpha, const float* x, float* y, int64_t n) {
  GRID_LOOP(i, n) y[i] += alpha * x[i];
}

__global__ void FillKernel(float* x, int64_t n, float v) {
  GRID_LOOP(i, n) x[i] = v;
}

__device__ inline float GeluDev(float x) {
  const float k = 0.7978845608028654f;
  return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}
__device__ inline float GeluGradDev(float x) {
  const float k = 0.7978845608028654f;
  const float t = tanhf(k * (x + 0.044715f * x * x * x));
  return 0.5f * (1.0f + t) +
         0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);
}

__global__ void ActForwardKernel(int act, const float* x, float* y, int64_t n) {
  GRID_LOOP(i, n) y[i] = act == 0 ? fmaxf(x[i], 0.0f) : GeluDev(x[i]);
}
__global__ void ActBackwardKernel(int act, const float* x, const float* dy,
                                  float* dx, int64_t n) {
  GRID_LOOP(i, n)
  dx[i] = act == 0 ? (x[i] > 0.0f ? dy[i] : 0.0f) : dy[i] * GeluGradDev(x[i]);
}

__global__ void DropoutForwardKernel(const float* x, float* y, float* mask,
                                     int64_t n, float p, uint64_t seed,
                                     uint64_t offset) {
  const float scale = 1.0f / (1.0f - p);
  GRID_LOOP(i, n) {
    const bool keep =
        CounterUniform(seed, offset + static_cast<uint64_t>(i)) >= p;
    const float m = keep ? scale : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}
__global__ void MulKernel(const float* a, const float* b, float* out,
                          int64_t n) {
  GRID_LOOP(i, n) out[i] = a[i] * b[i];
}

// One warp per row.
__global__ void LayerNormForwardKernel(const float* x, const float* gamma,
                                       const float* beta, float* y, float* mean,
                                       float* rstd, int64_t rows, int64_t cols,
                                       float eps) {
  const int64_t row = blockIdx.x * int64_t{blockDim.x / 32} + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* xr = x + row * cols;
  float s = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) s += xr[c];
  const float mu = WarpSum(s) / cols;
  float v = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) v += (xr[c] - mu) * (xr[c] - mu);
  const float rs = rsqrtf(WarpSum(v) / cols + eps);
  float* yr = y + row * cols;
  for (int64_t c = lane; c < cols; c += 32)
    yr[c] = (xr[c] - mu) * rs * gamma[c] + beta[c];
  if (lane == 0) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}

__global__ void LayerNormBackwardDxKernel(const float* x, const float* gamma,
                                          const float* mean, const float* rstd,
                                          const float* dy, float* dx,
                                          int64_t rows, int64_t cols) {
  const int64_t row = blockIdx.x * int64_t{blockDim.x / 32} + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* xr = x + row * cols;
  const float* dyr = dy + row * cols;
  const float mu = mean[row], rs = rstd[row];
  float a = 0.0f, b = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) {
    const float xhat = (xr[c] - mu) * rs;
    const float dxhat = dyr[c] * gamma[c];
    a += dxhat;
    b += dxhat * xhat;
  }
  a = WarpSum(a) / cols;
  b = WarpSum(b) / cols;
  float* dxr = dx + row * cols;
  for (int64_t c = lane; c < cols; c += 32) {
    const float xhat = (xr[c] - mu) * rs;
    dxr[c] = rs * (dyr[c] * gamma[c] - a - xhat * b);
  }
}

// dgamma, dbeta: column sums tiled like ColumnSumKernel (fixed order).
__global__ void LayerNormBackwardParamsKernel(const float* x, const float* mean,
                                              const float* rstd,
                                              const float* dy, float* dgamma,
                                              float* dbeta, int64_t rows,
                                              int64_t cols) {
  __shared__ float pg[kColTile][kColTile + 1], pb[kColTile][kColTile + 1];
  const int64_t c = blockIdx.x * int64_t{kColTile} + threadIdx.x;
  float g = 0.0f, b = 0.0f;
  if (c < cols) {
    for (int64_t r = threadIdx.y; r < rows; r += kColTile) {
      const float d = dy[r * cols + c];
      g += d * (x[r * cols + c] - mean[r]) * rstd[r];
      b += d;
    }
  }
  pg[threadIdx.y][threadIdx.x] = g;
  pb[threadIdx.y][threadIdx.x] = b;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float sg = 0.0f, sb = 0.0f;
    for (int i = 0; i < kColTile; ++i) {
      sg += pg[i][threadIdx.x];
      sb += pb[i][threadIdx.x];
    }
    dgamma[c] = sg;
    dbeta[c] = sb;
  }
}

// One warp per row. Labels < 0 (or >= cols) are ignored rows.
__global__ void SoftmaxXentKernel(const float* logits, const int32_t* labels,
                                  int64_t rows, int64_t cols, float grad_scale,
                                  float* row_loss, float* dlogits) {
  const int64_t row = blockIdx.x * int64_t{blockDim.x / 32} + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const float* lr = logits + row * cols;
  const int32_t label = labels[row];
  if (label < 0 || label >= cols) {
    if (lane == 0) row_loss[row] = 0.0f;
    if (dlogits != nullptr) {
      for (int64_t c = lane; c < cols; c += 32) dlogits[row * cols + c] = 0.0f;
    }
    return;
  }
  float mx = -INFINITY;
  for (int64_t c = lane; c < cols; c += 32) mx = fmaxf(mx, lr[c]);
  mx = WarpMax(mx);
  float s = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) s += expf(lr[c] - mx);
  s = WarpSum(s);
  if (lane == 0) row_loss[row] = logf(s) - (lr[label] - mx);
  if (dlogits != nullptr) {
    const float inv = 1.0f / s;
    for (int64_t c = lane; c < cols; c += 32) {
      dlogits[row * cols + c] =
          (expf(lr[c] - mx) * inv - (c == label ? 1.0f : 0.0f)) * grad_scale;
    }
  }
}

// A single block sums in a fixed order (double per thread, then a tree):
// deterministic.
__global__ void SumIntoKernel(const float* x, int64_t n, float scale,
                              float* acc) {
  __shared__ double partial[kThreads];
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[i];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride)
      partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) *acc += static_cast<float>(scale * partial[0]);
}

__global__ void ArgmaxKernel(const float* logits, int64_t rows, int64_t cols,
                             int32_t* out) {
  GRID_LOOP(r, rows) {
    const float* lr = logits + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c)
      if (lr[c] > lr[best]) best = c;
    out[r] = static_cast<int32_t>(best);
  }
}

__global__ void GatherRowsKernel(const float* src, const int32_t* index,
                                 int64_t rows, int64_t cols, float* dst) {
  GRID_LOOP(i, rows * cols) {
    const int64_t r = i / cols, c = i % cols;
    dst[i] = src[static_cast<int64_t>(index[r]) * cols + c];
  }
}
__global__ void GatherLabelsKernel(const int32_t* src, const int32_t* index,
                                   int64_t rows, int32_t* dst) {
  GRID_LOOP(r, rows) dst[r] = src[index[r]];
}

// One warp per row; lanes stride over the dense columns.
__global__ void SpMMKernel(int64_t rows, const int32_t* row_ptr,
                           const int32_t* col_idx, const float* values,
                           const float* x, int64_t cols, float* y) {
  const int64_t row = blockIdx.x * int64_t{blockDim.x / 32} + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int32_t begin = row_ptr[row], end = row_ptr[row + 1];
  for (int64_t c = lane; c < cols; c += 32) {
    float acc = 0.0f;
    for (int32_t p = begin; p < end; ++p)
      acc += values[p] * x[static_cast<int64_t>(col_idx[p]) * cols + c];
    y[row * cols + c] = acc;
  }
}

__global__ void AdamWKernel(float* p, const float* g, float* m, float* v,
                            int64_t n, float b1, float b2, float eps,
                            float decay, float step_size, float inv_sqrt_bc2) {
  GRID_LOOP(i, n) {
    const float gi = g[i];
    const float mi = b1 * m[i] + (1.0f - b1) * gi;
    const float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
  }
}

__global__ void SgdKernel(float* p, const float* g, float* buf, int64_t n,
                          float lr, float momentum, bool nesterov, float wd) {
  GRID_LOOP(i, n) {
    const float gi = g[i] + wd * p[i];
    float d = gi;
    if (momentum != 0.0f) {
      const float b = momentum * buf[i] + gi;
      buf[i] = b;
      d = nesterov ? gi + momentum * b : b;
    }
    p[i] -= lr * d;
  }
}

inline unsigned WarpRowBlocks(int64_t rows) {
  constexpr int kWarpsPerBlock = kThreads / 32;
  return static_cast<unsigned>((rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index) {}
  ~CudaBackend() override {
    cudaSetDevice(index_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  absl::Status Init() {
    CUDA_RETURN_IF_ERROR(cudaSetDevice(index_));
    CUDA_RETURN_IF_ERROR(
        cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUBLAS_RETURN_IF_ERROR(cublasCreate(&cublas_));
    CUBLAS_RETURN_IF_ERROR(cublasSetStream(cublas_, stream_));
    // Full fp32 (no TF32) so results match the CPU reference within fp32
    // tolerances.
    CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    cudaDeviceProp prop;
    CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, index_));
    name_ = prop.name;
    return absl::OkStatus();
  }

  Device device() const override { return Device{DeviceKind::kCuda, index_}; }
  absl::Status MakeCurrent() override {
    CUDA_RETURN_IF_ERROR(cudaSetDevice(index_));
    return absl::OkStatus();
  }
  cudaStream_t stream() const { return stream_; }
  std::string Describe() const override {
    return absl::StrCat("cuda:", index_, " (", name_, ", cuBLAS fp32)");
  }

  absl::StatusOr<void*> Allocate(size_t bytes) override {
    void* p = nullptr;
    CUDA_RETURN_IF_ERROR(cudaMalloc(&p, std::max<size_t>(bytes, 256)));
    CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(p, 0, std::max<size_t>(bytes, 256), stream_));
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    ++allocation_count_;
    return p;
  }
  void Free(void* ptr) override { cudaFree(ptr); }
  absl::Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    // The host buffer may be reused by the caller right away.
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }
  absl::Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }
  absl::Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
    return absl::OkStatus();
  }
  absl::Status Synchronize() override {
    CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_));
    return absl::OkStatus();
  }

  absl::Status DoGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                      float alpha, const float* a, const float* b, float beta,
                      float* c) override {
    if (m == 0 || n == 0) return absl::OkStatus();
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T.
    const int lda = static_cast<int>(ta ? m : k),
              ldb = static_cast<int>(tb ? k : n);
    CUBLAS_RETURN_IF_ERROR(cublasSgemm(
        cublas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
        static_cast<int>(n), static_cast<int>(m), static_cast<int>(k), &alpha,
        b, ldb, a, lda, &beta, c, static_cast<int>(n)));
    return absl::OkStatus();
  }
  absl::Status DoAddBias(float* y, const float* bias, int64_t rows,
                         int64_t cols) override {
    if (rows * cols == 0) return absl::OkStatus();
    const dim3 grid(Blocks(cols),
                    static_cast<unsigned>(std::min<int64_t>(rows, 65535)));
    AddBiasKernel<<<grid, kThreads, 0, stream_>>>(y, bias, rows, cols);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoBiasGrad(const float* dy, int64_t rows, int64_t cols,
                          float* db) override {
    if (cols == 0) return absl::OkStatus();
    const unsigned tiles =
        static_cast<unsigned>((cols + kColTile - 1) / kColTile);
    ColumnSumKernel<<<tiles, dim3(kColTile, kColTile), 0, stream_>>>(dy, rows,
                                                                     cols, db);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoAxpy(float alpha, const float* x, float* y,
                      int64_t n) override {
    if (n == 0) return absl::OkStatus();
    AxpyKernel<<<Blocks(n), kThreads, 0, stream_>>>(alpha, x, y, n);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoFill(float* x, int64_t n, float value) override {
    if (n == 0) return absl::OkStatus();
    FillKernel<<<Blocks(n), kThreads, 0, stream_>>>(x, n, value);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoActivationForward(Activation act, const float* x, float* y,
                                   int64_t n) override {
    if (n == 0) return absl::OkStatus();
    ActForwardKernel<<<Blocks(n), kThreads, 0, stream_>>>(
        act == Activation::kRelu ? 0 : 1, x, y, n);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoActivationBackward(Activation act, const float* x,
                                    const float* dy, float* dx,
                                    int64_t n) override {
    if (n == 0) return absl::OkStatus();
    ActBackwardKernel<<<Blocks(n), kThreads, 0, stream_>>>(
        act == Activation::kRelu ? 0 : 1, x, dy, dx, n);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoDropoutForward(const float* x, float* y, float* mask,
                                int64_t n, float p, uint64_t seed,
                                uint64_t offset) override {
    if (n == 0) return absl::OkStatus();
    DropoutForwardKernel<<<Blocks(n), kThreads, 0, stream_>>>(x, y, mask, n, p,
                                                              seed, offset);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoDropoutBackward(const float* dy, const float* mask, float* dx,
                                 int64_t n) override {
    if (n == 0) return absl::OkStatus();
    MulKernel<<<Blocks(n), kThreads, 0, stream_>>>(dy, mask, dx, n);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoLayerNormForward(const float* x, const float* gamma,
                                  const float* beta, float* y, float* mean,
                                  float* rstd, int64_t rows, int64_t cols,
                                  float eps) override {
    if (rows == 0) return absl::OkStatus();
    LayerNormForwardKernel<<<WarpRowBlocks(rows), kThreads, 0, stream_>>>(
        x, gamma, beta, y, mean, rstd, rows, cols, eps);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoLayerNormBackward(const float* x, const float* gamma,
                                   const float* mean, const float* rstd,
                                   const float* dy, float* dx, float* dgamma,
                                   float* dbeta, int64_t rows,
                                   int64_t cols) override {
    if (rows == 0 || cols == 0) return absl::OkStatus();
    // Parameter gradients first: dx may not alias dy, but keep the order
    // independent anyway.
    LayerNormBackwardParamsKernel<<<static_cast<unsigned>(
                                        (cols + kColTile - 1) / kColTile),
                                    dim3(kColTile, kColTile), 0, stream_>>>(
        x, mean, rstd, dy, dgamma, dbeta, rows, cols);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    LayerNormBackwardDxKernel<<<WarpRowBlocks(rows), kThreads, 0, stream_>>>(
        x, gamma, mean, rstd, dy, dx, rows, cols);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoSoftmaxCrossEntropy(const float* logits, const int32_t* labels,
                                     int64_t rows, int64_t cols,
                                     float grad_scale, float* row_loss,
                                     float* dlogits) override {
    if (rows == 0) return absl::OkStatus();
    SoftmaxXentKernel<<<WarpRowBlocks(rows), kThreads, 0, stream_>>>(
        logits, labels, rows, cols, grad_scale, row_loss, dlogits);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoSumInto(const float* x, int64_t n, float scale,
                         float* acc) override {
    SumIntoKernel<<<1, kThreads, 0, stream_>>>(x, n, scale, acc);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoArgmaxRows(const float* logits, int64_t rows, int64_t cols,
                            int32_t* out) override {
    if (rows == 0) return absl::OkStatus();
    ArgmaxKernel<<<Blocks(rows), kThreads, 0, stream_>>>(logits, rows, cols,
                                                         out);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoGatherRows(const float* src, const int32_t* index,
                            int64_t rows, int64_t cols, float* dst) override {
    if (rows * cols == 0) return absl::OkStatus();
    GatherRowsKernel<<<Blocks(rows * cols), kThreads, 0, stream_>>>(
        src, index, rows, cols, dst);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoGatherLabels(const int32_t* src, const int32_t* index,
                              int64_t rows, int32_t* dst) override {
    if (rows == 0) return absl::OkStatus();
    GatherLabelsKernel<<<Blocks(rows), kThreads, 0, stream_>>>(src, index, rows,
                                                               dst);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoSpMM(const CsrView& a, const float* x, int64_t cols,
                      float* y) override {
    if (a.rows == 0 || cols == 0) return absl::OkStatus();
    SpMMKernel<<<WarpRowBlocks(a.rows), kThreads, 0, stream_>>>(
        a.rows, a.row_ptr, a.col_idx, a.values, x, cols, y);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoAdamWUpdate(float* param, const float* grad, float* m,
                             float* v, int64_t n,
                             const AdamWParams& hp) override {
    if (n == 0) return absl::OkStatus();
    const float bc1 = 1.0f - std::pow(hp.beta1, static_cast<float>(hp.step));
    const float bc2 = 1.0f - std::pow(hp.beta2, static_cast<float>(hp.step));
    AdamWKernel<<<Blocks(n), kThreads, 0, stream_>>>(
        param, grad, m, v, n, hp.beta1, hp.beta2, hp.eps,
        1.0f - hp.lr * hp.weight_decay, hp.lr / bc1, 1.0f / std::sqrt(bc2));
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }
  absl::Status DoSgdUpdate(float* param, const float* grad, float* buf,
                           int64_t n, const SgdParams& hp) override {
    if (n == 0) return absl::OkStatus();
    SgdKernel<<<Blocks(n), kThreads, 0, stream_>>>(
        param, grad, buf, n, hp.lr, hp.momentum, hp.nesterov, hp.weight_decay);
    CUDA_RETURN_IF_LAUNCH_ERROR();
    return absl::OkStatus();
  }

 private:
  int index_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
};

}  // namespace

void* CudaStreamOf(Backend* backend) {
  auto* cuda = dynamic_cast<CudaBackend*>(backend);
  return cuda == nullptr ? nullptr : static_cast<void*>(cuda->stream());
}

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(int index) {
  auto be = std::make_unique<CudaBackend>(index);
  RETURN_IF_ERROR(be->Init());
  return std::unique_ptr<Backend>(std::move(be));
}

}  // namespace ladle
