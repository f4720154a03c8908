// ParamStore: all of a model's parameters in one flat buffer, and their
// gradients in another.
//
// One buffer lets the optimizer update everything in a few fused passes and
// makes checkpoints a simple walk over named slices. Layers declare parameters
// (Declare) before Allocate(); after it, param(i)/grad(i) point into the
// buffers. Not thread-safe.
#ifndef LADLE_KERNELS_PARAMS_H_
#define LADLE_KERNELS_PARAMS_H_

#include <string>
#include <vector>

#include "common/random.h"
#include "kernels/tensor.h"

namespace ladle {

enum class ParamInit { kZeros, kOnes, kUniformFanIn };

struct ParamInfo {
  std::string name;  // e.g. "layers.0.weight" (PyTorch-style, for interop)
  Shape shape;
  int64_t offset = 0;  // into the flat buffers
  bool decay =
      false;  // weight decay applies (matrices yes; biases and norms no)
  ParamInit init = ParamInit::kZeros;
  int64_t fan_in = 1;
};

class ParamStore {
 public:
  // Declares a parameter; returns its index. Only before Allocate().
  int Declare(std::string name, Shape shape, bool decay, ParamInit init,
              int64_t fan_in = 1);
  // Allocates parameters and gradients on `backend`, initialised from `seed`
  // (PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
  // weights and biases).
  absl::Status Allocate(Backend* backend, uint64_t seed);

  float* param(int i) { return params_.data() + infos_[i].offset; }
  float* grad(int i) { return grads_.data() + infos_[i].offset; }
  const float* param(int i) const { return params_.data() + infos_[i].offset; }
  Tensor<float>& params() { return params_; }
  Tensor<float>& grads() { return grads_; }
  const std::vector<ParamInfo>& infos() const { return infos_; }
  int64_t total() const { return total_; }

 private:
  std::vector<ParamInfo> infos_;
  int64_t total_ = 0;
  Tensor<float> params_, grads_;
};

}  // namespace ladle

#endif  // LADLE_KERNELS_PARAMS_H_
