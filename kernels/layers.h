// Layer building blocks used by the models: each keeps its parameter indices
// and runs forward and backward through a Backend. Activations are owned by the
// model (workspace allocated once for max_batch), so a training step allocates
// nothing.
#ifndef LADLE_KERNELS_LAYERS_H_
#define LADLE_KERNELS_LAYERS_H_

#include <string>

#include "common/status_macros.h"
#include "kernels/params.h"

namespace ladle {

// y[B,out] = x[B,in] W^T + b, W stored [out, in] as in PyTorch.
class LinearLayer {
 public:
  LinearLayer() = default;
  LinearLayer(ParamStore& store, const std::string& name, int64_t in,
              int64_t out, bool bias)
      : in_(in), out_(out) {
    w_ = store.Declare(name + ".weight", {out, in}, /*decay=*/true,
                       ParamInit::kUniformFanIn, in);
    if (bias)
      b_ = store.Declare(name + ".bias", {out}, false, ParamInit::kUniformFanIn,
                         in);
  }

  absl::Status Forward(Backend* be, ParamStore& ps, const float* x,
                       int64_t batch, float* y) const {
    RETURN_IF_ERROR(be->Gemm(false, true, batch, out_, in_, 1.0f, x,
                             ps.param(w_), 0.0f, y));
    if (b_ >= 0) RETURN_IF_ERROR(be->AddBias(y, ps.param(b_), batch, out_));
    return absl::OkStatus();
  }
  // Writes dW, db; dx = dy W when dx is not null.
  absl::Status Backward(Backend* be, ParamStore& ps, const float* x,
                        const float* dy, int64_t batch, float* dx) const {
    RETURN_IF_ERROR(be->Gemm(true, false, out_, in_, batch, 1.0f, dy, x, 0.0f,
                             ps.grad(w_)));
    if (b_ >= 0) RETURN_IF_ERROR(be->BiasGrad(dy, batch, out_, ps.grad(b_)));
    if (dx != nullptr) {
      RETURN_IF_ERROR(be->Gemm(false, false, batch, in_, out_, 1.0f, dy,
                               ps.param(w_), 0.0f, dx));
    }
    return absl::OkStatus();
  }
  // Adds y's bias after another op (GCN: bias after aggregation).
  int bias_index() const { return b_; }
  int64_t in() const { return in_; }
  int64_t out() const { return out_; }
  // Multiply-adds per sample of the forward GEMM.
  int64_t macs() const { return in_ * out_; }

 private:
  int64_t in_ = 0, out_ = 0;
  int w_ = -1, b_ = -1;
};

class LayerNormLayer {
 public:
  static constexpr float kEps = 1e-5f;
  LayerNormLayer() = default;
  // `groups` > 1: each row's `dim` features are `groups` contiguous slices
  // normalised separately (a row-major [batch, dim] tensor is a
  // [batch·groups, dim/groups] one), sharing one affine of dim/groups.
  // mean and rstd then hold batch·groups entries.
  LayerNormLayer(ParamStore& store, const std::string& name, int64_t dim,
                 int64_t groups = 1)
      : dim_(dim / groups), groups_(groups) {
    g_ = store.Declare(name + ".weight", {dim_}, false, ParamInit::kOnes);
    b_ = store.Declare(name + ".bias", {dim_}, false, ParamInit::kZeros);
  }
  absl::Status Forward(Backend* be, ParamStore& ps, const float* x,
                       int64_t batch, float* y, float* mean,
                       float* rstd) const {
    return be->LayerNormForward(x, ps.param(g_), ps.param(b_), y, mean, rstd,
                                batch * groups_, dim_, kEps);
  }
  absl::Status Backward(Backend* be, ParamStore& ps, const float* x,
                        const float* mean, const float* rstd, const float* dy,
                        int64_t batch, float* dx) const {
    return be->LayerNormBackward(x, ps.param(g_), mean, rstd, dy, dx,
                                 ps.grad(g_), ps.grad(b_), batch * groups_,
                                 dim_);
  }
  int64_t groups() const { return groups_; }

 private:
  int64_t dim_ = 0, groups_ = 1;
  int g_ = -1, b_ = -1;
};

}  // namespace ladle

#endif  // LADLE_KERNELS_LAYERS_H_
