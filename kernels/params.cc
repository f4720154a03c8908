#include "kernels/params.h"

#include <cmath>

namespace ladle {

int ParamStore::Declare(std::string name, Shape shape, bool decay,
                        ParamInit init, int64_t fan_in) {
  ParamInfo info;
  info.name = std::move(name);
  info.offset = total_;
  total_ += NumElements(shape);
  // Keep every parameter 16-float aligned so vector loads stay aligned.
  total_ = (total_ + 15) / 16 * 16;
  info.shape = std::move(shape);
  info.decay = decay;
  info.init = init;
  info.fan_in = fan_in;
  infos_.push_back(std::move(info));
  return static_cast<int>(infos_.size()) - 1;
}

absl::Status ParamStore::Allocate(Backend* backend, uint64_t seed) {
  ASSIGN_OR_RETURN(params_, Tensor<float>::Zeros(backend, {total_}));
  ASSIGN_OR_RETURN(grads_, Tensor<float>::Zeros(backend, {total_}));
  std::vector<float> host(total_, 0.0f);
  Rng rng(seed);
  for (const ParamInfo& info : infos_) {
    float* p = host.data() + info.offset;
    const int64_t n = NumElements(info.shape);
    switch (info.init) {
      case ParamInit::kZeros:
        break;
      case ParamInit::kOnes:
        std::fill(p, p + n, 1.0f);
        break;
      case ParamInit::kUniformFanIn: {
        const double bound = 1.0 / std::sqrt(static_cast<double>(info.fan_in));
        for (int64_t i = 0; i < n; ++i)
          p[i] = static_cast<float>((2 * rng.Uniform() - 1) * bound);
        break;
      }
    }
  }
  return params_.CopyFromHost(host.data(), total_);
}

}  // namespace ladle
