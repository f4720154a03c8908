#include "kernels/models.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/layers.h"

namespace ladle {

absl::Status Model::CheckBatch(int64_t batch) const {
  if (batch <= 0 || batch > max_batch_) {
    return absl::InvalidArgumentError(
        absl::StrCat("model: batch ", batch, " outside [1, ", max_batch_, "]"));
  }
  return absl::OkStatus();
}

namespace {

// Dropout streams of different layers must not overlap: each layer gets its own
// 2^40 range.
constexpr uint64_t kDropoutStream = uint64_t{1} << 40;

absl::StatusOr<Tensor<float>> Workspace(Backend* be, int64_t rows,
                                        int64_t cols) {
  return Tensor<float>::Zeros(be, {rows, cols});
}

// x -> [Linear -> act -> dropout] * hidden -> Linear.
class Mlp final : public Model {
 public:
  Mlp(const ModelConfig& c, Backend* be, int64_t in, int64_t classes,
      int64_t max_batch)
      : Model(be, in, classes, max_batch),
        act_(c.activation),
        dropout_(c.dropout) {
    int64_t prev = in;
    for (size_t i = 0; i <= c.hidden.size(); ++i) {
      const int64_t out = i < c.hidden.size() ? c.hidden[i] : classes;
      layers_.emplace_back(params_, absl::StrCat("layers.", i), prev, out,
                           /*bias=*/true);
      prev = out;
    }
  }

  absl::Status Init(uint64_t seed) {
    RETURN_IF_ERROR(params_.Allocate(backend_, seed));
    int64_t widest = 0;
    for (const LinearLayer& l : layers_) {
      ASSIGN_OR_RETURN(Tensor<float> z,
                       Workspace(backend_, max_batch_, l.out()));
      z_.push_back(std::move(z));
      widest = std::max({widest, l.in(), l.out()});
    }
    for (size_t i = 0; i + 1 < layers_.size(); ++i) {
      ASSIGN_OR_RETURN(Tensor<float> a,
                       Workspace(backend_, max_batch_, layers_[i].out()));
      a_.push_back(std::move(a));
      if (dropout_ > 0) {
        ASSIGN_OR_RETURN(Tensor<float> m,
                         Workspace(backend_, max_batch_, layers_[i].out()));
        mask_.push_back(std::move(m));
      }
    }
    for (auto& s : scratch_) {
      ASSIGN_OR_RETURN(s, Workspace(backend_, max_batch_, widest));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<const float*> Forward(const float* x, int64_t batch,
                                       bool training,
                                       uint64_t dropout_seed) override {
    RETURN_IF_ERROR(CheckBatch(batch));
    x_ = x;
    batch_ = batch;
    const float* in = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      RETURN_IF_ERROR(
          layers_[i].Forward(backend_, params_, in, batch, z_[i].data()));
      if (i + 1 == layers_.size()) break;
      const int64_t n = batch * layers_[i].out();
      RETURN_IF_ERROR(
          backend_->ActivationForward(act_, z_[i].data(), a_[i].data(), n));
      if (training && dropout_ > 0) {
        RETURN_IF_ERROR(backend_->DropoutForward(
            a_[i].data(), a_[i].data(), mask_[i].data(), n, dropout_,
            dropout_seed, i * kDropoutStream));
      }
      in = a_[i].data();
    }
    training_ = training;
    return z_.back().data();
  }

  absl::Status Backward(const float* dlogits) override {
    if (!training_)
      return absl::FailedPreconditionError(
          "mlp: Backward needs a training Forward");
    const float* dz = dlogits;
    int which = 0;
    for (size_t i = layers_.size(); i-- > 0;) {
      const float* in = i == 0 ? x_ : a_[i - 1].data();
      float* dx = i == 0 ? nullptr : scratch_[which].data();
      RETURN_IF_ERROR(
          layers_[i].Backward(backend_, params_, in, dz, batch_, dx));
      if (i == 0) break;
      const int64_t n = batch_ * layers_[i - 1].out();
      if (dropout_ > 0)
        RETURN_IF_ERROR(
            backend_->DropoutBackward(dx, mask_[i - 1].data(), dx, n));
      RETURN_IF_ERROR(
          backend_->ActivationBackward(act_, z_[i - 1].data(), dx, dx, n));
      dz = dx;
      which ^= 1;
    }
    return absl::OkStatus();
  }

  double TrainFlops(int64_t batch) const override {
    double macs = 0;
    for (size_t i = 0; i < layers_.size(); ++i)
      macs += (i == 0 ? 2 : 3) * layers_[i].macs();
    return 2.0 * macs * batch;
  }

 private:
  Activation act_;
  float dropout_;
  std::vector<LinearLayer> layers_;
  std::vector<Tensor<float>> z_, a_, mask_;
  Tensor<float> scratch_[2];
  const float* x_ = nullptr;
  int64_t batch_ = 0;
  bool training_ = false;
};

// x -> Linear(in, d) -> blocks of [h + W2 gelu(W1 LN(h))] -> LN -> Linear(d,
// classes).
class ResMlp final : public Model {
 public:
  ResMlp(const ModelConfig& c, Backend* be, int64_t in, int64_t classes,
         int64_t max_batch)
      : Model(be, in, classes, max_batch),
        d_(c.width),
        hidden_(c.width * c.expansion),
        groups_(c.ln_groups),
        dropout_(c.dropout) {
    embed_ = LinearLayer(params_, "embed", in, d_, true);
    for (int64_t b = 0; b < c.blocks; ++b) {
      const std::string p = absl::StrCat("blocks.", b);
      blocks_.push_back({LayerNormLayer(params_, p + ".norm", d_, groups_),
                         LinearLayer(params_, p + ".fc1", d_, hidden_, true),
                         LinearLayer(params_, p + ".fc2", hidden_, d_, true)});
    }
    final_norm_ = LayerNormLayer(params_, "norm", d_, groups_);
    head_ = LinearLayer(params_, "head", d_, classes, true);
  }

  absl::Status Init(uint64_t seed) {
    RETURN_IF_ERROR(params_.Allocate(backend_, seed));
    const int64_t nb = blocks_.size(), B = max_batch_;
    for (int64_t b = 0; b <= nb; ++b) {
      ASSIGN_OR_RETURN(Tensor<float> h, Workspace(backend_, B, d_));
      h_.push_back(std::move(h));
    }
    for (int64_t b = 0; b <= nb; ++b) {  // index nb is the final norm
      ASSIGN_OR_RETURN(Tensor<float> ln, Workspace(backend_, B, d_));
      ASSIGN_OR_RETURN(Tensor<float> stats,
                       Workspace(backend_, 2, B * groups_));
      ln_.push_back(std::move(ln));
      stats_.push_back(std::move(stats));
    }
    for (int64_t b = 0; b < nb; ++b) {
      ASSIGN_OR_RETURN(Tensor<float> z, Workspace(backend_, B, hidden_));
      ASSIGN_OR_RETURN(Tensor<float> a, Workspace(backend_, B, hidden_));
      z1_.push_back(std::move(z));
      a1_.push_back(std::move(a));
      if (dropout_ > 0) {
        ASSIGN_OR_RETURN(Tensor<float> m, Workspace(backend_, B, hidden_));
        mask_.push_back(std::move(m));
      }
    }
    ASSIGN_OR_RETURN(logits_, Workspace(backend_, B, num_classes_));
    ASSIGN_OR_RETURN(dh_, Workspace(backend_, B, d_));
    ASSIGN_OR_RETURN(dln_, Workspace(backend_, B, d_));
    ASSIGN_OR_RETURN(tmp_, Workspace(backend_, B, d_));
    ASSIGN_OR_RETURN(da1_, Workspace(backend_, B, hidden_));
    return absl::OkStatus();
  }

  absl::StatusOr<const float*> Forward(const float* x, int64_t batch,
                                       bool training,
                                       uint64_t dropout_seed) override {
    RETURN_IF_ERROR(CheckBatch(batch));
    x_ = x;
    batch_ = batch;
    training_ = training;
    RETURN_IF_ERROR(embed_.Forward(backend_, params_, x, batch, h_[0].data()));
    for (size_t b = 0; b < blocks_.size(); ++b) {
      const Block& blk = blocks_[b];
      float* mean = stats_[b].data();
      float* rstd = mean + max_batch_ * groups_;
      RETURN_IF_ERROR(blk.norm.Forward(backend_, params_, h_[b].data(), batch,
                                       ln_[b].data(), mean, rstd));
      RETURN_IF_ERROR(blk.fc1.Forward(backend_, params_, ln_[b].data(), batch,
                                      z1_[b].data()));
      const int64_t n = batch * hidden_;
      RETURN_IF_ERROR(backend_->ActivationForward(
          Activation::kGelu, z1_[b].data(), a1_[b].data(), n));
      if (training && dropout_ > 0) {
        RETURN_IF_ERROR(backend_->DropoutForward(
            a1_[b].data(), a1_[b].data(), mask_[b].data(), n, dropout_,
            dropout_seed, b * kDropoutStream));
      }
      // h[b+1] = fc2(a1) + h[b]
      RETURN_IF_ERROR(blk.fc2.Forward(backend_, params_, a1_[b].data(), batch,
                                      h_[b + 1].data()));
      RETURN_IF_ERROR(
          backend_->Axpy(1.0f, h_[b].data(), h_[b + 1].data(), batch * d_));
    }
    const size_t nb = blocks_.size();
    float* mean = stats_[nb].data();
    RETURN_IF_ERROR(final_norm_.Forward(backend_, params_, h_[nb].data(), batch,
                                        ln_[nb].data(), mean,
                                        mean + max_batch_ * groups_));
    RETURN_IF_ERROR(head_.Forward(backend_, params_, ln_[nb].data(), batch,
                                  logits_.data()));
    return logits_.data();
  }

  absl::Status Backward(const float* dlogits) override {
    if (!training_)
      return absl::FailedPreconditionError(
          "resmlp: Backward needs a training Forward");
    const size_t nb = blocks_.size();
    const int64_t B = batch_;
    RETURN_IF_ERROR(head_.Backward(backend_, params_, ln_[nb].data(), dlogits,
                                   B, dln_.data()));
    const float* mean = stats_[nb].data();
    RETURN_IF_ERROR(final_norm_.Backward(backend_, params_, h_[nb].data(), mean,
                                         mean + max_batch_ * groups_,
                                         dln_.data(), B, dh_.data()));
    for (size_t b = nb; b-- > 0;) {
      const Block& blk = blocks_[b];
      // dh flows to fc2's output and straight through the residual.
      RETURN_IF_ERROR(blk.fc2.Backward(backend_, params_, a1_[b].data(),
                                       dh_.data(), B, da1_.data()));
      const int64_t n = B * hidden_;
      if (dropout_ > 0) {
        RETURN_IF_ERROR(backend_->DropoutBackward(da1_.data(), mask_[b].data(),
                                                  da1_.data(), n));
      }
      RETURN_IF_ERROR(backend_->ActivationBackward(
          Activation::kGelu, z1_[b].data(), da1_.data(), da1_.data(), n));
      RETURN_IF_ERROR(blk.fc1.Backward(backend_, params_, ln_[b].data(),
                                       da1_.data(), B, dln_.data()));
      const float* bm = stats_[b].data();
      RETURN_IF_ERROR(blk.norm.Backward(backend_, params_, h_[b].data(), bm,
                                        bm + max_batch_ * groups_, dln_.data(),
                                        B, tmp_.data()));
      RETURN_IF_ERROR(backend_->Axpy(1.0f, tmp_.data(), dh_.data(), B * d_));
    }
    return embed_.Backward(backend_, params_, x_, dh_.data(), B, nullptr);
  }

  double TrainFlops(int64_t batch) const override {
    double macs = 2.0 * embed_.macs() + 3.0 * head_.macs();
    for (const Block& b : blocks_) macs += 3.0 * (b.fc1.macs() + b.fc2.macs());
    return 2.0 * macs * batch;
  }

 private:
  struct Block {
    LayerNormLayer norm;
    LinearLayer fc1, fc2;
  };
  int64_t d_, hidden_, groups_;
  float dropout_;
  LinearLayer embed_, head_;
  LayerNormLayer final_norm_;
  std::vector<Block> blocks_;
  std::vector<Tensor<float>> h_, ln_, stats_, z1_, a1_, mask_;
  Tensor<float> logits_, dh_, dln_, tmp_, da1_;
  const float* x_ = nullptr;
  int64_t batch_ = 0;
  bool training_ = false;
};

// Kipf & Welling GCN: per layer H' = Â (dropout(H) W^T) + b, ReLU between
// layers.
class Gcn final : public Model {
 public:
  Gcn(const ModelConfig& c, Backend* be, const DeviceCsr* adj, int64_t in,
      int64_t classes)
      : Model(be, in, classes, adj->rows),
        graph_(adj->view()),
        dropout_(c.dropout) {
    int64_t prev = in;
    for (size_t i = 0; i <= c.hidden.size(); ++i) {
      const int64_t out = i < c.hidden.size() ? c.hidden[i] : classes;
      layers_.emplace_back(params_, absl::StrCat("layers.", i), prev, out,
                           /*bias=*/true);
      prev = out;
    }
  }

  absl::Status Init(uint64_t seed) {
    RETURN_IF_ERROR(params_.Allocate(backend_, seed));
    const int64_t n = max_batch_;
    int64_t widest = 0;
    for (const LinearLayer& l : layers_) {
      const int64_t drop_cols = dropout_ > 0 ? l.in() : 0;
      ASSIGN_OR_RETURN(Tensor<float> d, Workspace(backend_, n, drop_cols));
      ASSIGN_OR_RETURN(Tensor<float> m, Workspace(backend_, n, drop_cols));
      ASSIGN_OR_RETURN(Tensor<float> p, Workspace(backend_, n, l.out()));
      ASSIGN_OR_RETURN(Tensor<float> z, Workspace(backend_, n, l.out()));
      dropped_.push_back(std::move(d));
      mask_.push_back(std::move(m));
      p_.push_back(std::move(p));
      z_.push_back(std::move(z));
      widest = std::max({widest, l.in(), l.out()});
    }
    inputs_.assign(layers_.size(), nullptr);
    for (size_t i = 0; i + 1 < layers_.size(); ++i) {
      ASSIGN_OR_RETURN(Tensor<float> h,
                       Workspace(backend_, n, layers_[i].out()));
      h_.push_back(std::move(h));
    }
    for (auto& s : scratch_) {
      ASSIGN_OR_RETURN(s, Workspace(backend_, n, widest));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<const float*> Forward(const float* x, int64_t batch,
                                       bool training,
                                       uint64_t dropout_seed) override {
    if (batch != graph_.rows) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gcn: forward takes all ", graph_.rows, " nodes, got ", batch));
    }
    training_ = training;
    const int64_t N = batch;
    const float* in = x;
    for (size_t i = 0; i < layers_.size(); ++i) {
      const LinearLayer& l = layers_[i];
      const float* d = in;
      if (training && dropout_ > 0) {
        RETURN_IF_ERROR(backend_->DropoutForward(
            in, dropped_[i].data(), mask_[i].data(), N * l.in(), dropout_,
            dropout_seed, i * kDropoutStream));
        d = dropped_[i].data();
      }
      inputs_[i] = d;
      // P = D W^T (no bias), Z = Â P + b.
      RETURN_IF_ERROR(backend_->Gemm(false, true, N, l.out(), l.in(), 1.0f, d,
                                     params_.param(WeightIndex(i)), 0.0f,
                                     p_[i].data()));
      RETURN_IF_ERROR(
          backend_->SpMM(graph_, p_[i].data(), l.out(), z_[i].data()));
      RETURN_IF_ERROR(backend_->AddBias(
          z_[i].data(), params_.param(l.bias_index()), N, l.out()));
      if (i + 1 == layers_.size()) break;
      RETURN_IF_ERROR(backend_->ActivationForward(
          Activation::kRelu, z_[i].data(), h_[i].data(), N * l.out()));
      in = h_[i].data();
    }
    return z_.back().data();
  }

  absl::Status Backward(const float* dlogits) override {
    if (!training_)
      return absl::FailedPreconditionError(
          "gcn: Backward needs a training Forward");
    const int64_t N = graph_.rows;
    const float* dz = dlogits;
    for (size_t i = layers_.size(); i-- > 0;) {
      const LinearLayer& l = layers_[i];
      RETURN_IF_ERROR(
          backend_->BiasGrad(dz, N, l.out(), params_.grad(l.bias_index())));
      // dP = Âᵀ dZ = Â dZ (Â is symmetric).
      float* dp = scratch_[0].data();
      RETURN_IF_ERROR(backend_->SpMM(graph_, dz, l.out(), dp));
      RETURN_IF_ERROR(backend_->Gemm(true, false, l.out(), l.in(), N, 1.0f, dp,
                                     inputs_[i], 0.0f,
                                     params_.grad(WeightIndex(i))));
      if (i == 0) break;
      float* dd = scratch_[1].data();
      RETURN_IF_ERROR(backend_->Gemm(false, false, N, l.in(), l.out(), 1.0f, dp,
                                     params_.param(WeightIndex(i)), 0.0f, dd));
      const int64_t n = N * l.in();
      if (dropout_ > 0)
        RETURN_IF_ERROR(backend_->DropoutBackward(dd, mask_[i].data(), dd, n));
      RETURN_IF_ERROR(backend_->ActivationBackward(
          Activation::kRelu, z_[i - 1].data(), dd, dd, n));
      // dz of layer i-1 lives in scratch_[1]; its dP goes to scratch_[0], its
      // dD overwrites it.
      dz = dd;
    }
    return absl::OkStatus();
  }

  absl::Status UseGraph(const CsrView& adj) override {
    if (adj.rows <= 0 || adj.rows != adj.cols || adj.rows > max_batch_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gcn: a graph of 1..", max_batch_, " nodes (square) is needed, got ",
          adj.rows, "x", adj.cols));
    }
    graph_ = adj;
    training_ = false;
    return absl::OkStatus();
  }

  double TrainFlops(int64_t batch) const override {
    double flops = 0;
    for (size_t i = 0; i < layers_.size(); ++i) {
      flops += 2.0 * (i == 0 ? 2 : 3) * layers_[i].macs() * batch;
      flops +=
          2.0 * 2 * graph_.nnz * layers_[i].out();  // SpMM forward + backward
    }
    return flops;
  }

 private:
  // Layer i declared weight then bias, so the weight index is the bias index
  // - 1.
  int WeightIndex(size_t i) const { return layers_[i].bias_index() - 1; }

  CsrView graph_;  // the graph Forward runs on: the full one or a subgraph
  float dropout_;
  std::vector<LinearLayer> layers_;
  std::vector<Tensor<float>> dropped_, mask_, p_, z_, h_;
  std::vector<const float*>
      inputs_;  // each layer's (dropped-out) input, for dW
  Tensor<float> scratch_[2];
  bool training_ = false;
};

absl::Status ValidateConfig(const ModelConfig& c) {
  if (!(c.dropout >= 0.0f && c.dropout < 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.dropout: must be in [0, 1), got ", c.dropout));
  }
  for (int64_t h : c.hidden) {
    if (h <= 0)
      return absl::InvalidArgumentError("model.hidden: widths must be > 0");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> CreateDenseModel(
    const ModelConfig& config, Backend* backend, int64_t input_dim,
    int64_t num_classes, int64_t max_batch, uint64_t seed) {
  RETURN_IF_ERROR(ValidateConfig(config));
  if (config.type == ModelConfig::Type::kMlp) {
    auto m = std::make_unique<Mlp>(config, backend, input_dim, num_classes,
                                   max_batch);
    RETURN_IF_ERROR(m->Init(seed));
    return std::unique_ptr<Model>(std::move(m));
  }
  if (config.type == ModelConfig::Type::kResMlp) {
    if (config.width <= 0 || config.blocks < 0 || config.expansion <= 0) {
      return absl::InvalidArgumentError(
          "model: resmlp needs width > 0, blocks >= 0, expansion > 0");
    }
    if (config.ln_groups < 1 || config.width % config.ln_groups != 0) {
      return absl::InvalidArgumentError(
          "model.ln_groups: must be >= 1 and divide model.width");
    }
    auto m = std::make_unique<ResMlp>(config, backend, input_dim, num_classes,
                                      max_batch);
    RETURN_IF_ERROR(m->Init(seed));
    return std::unique_ptr<Model>(std::move(m));
  }
  return absl::InvalidArgumentError(
      "model.type: gcn needs a graph dataset (use CreateGcnModel)");
}

absl::StatusOr<std::unique_ptr<Model>> CreateGcnModel(
    const ModelConfig& config, Backend* backend, const DeviceCsr* adj,
    int64_t input_dim, int64_t num_classes, uint64_t seed) {
  RETURN_IF_ERROR(ValidateConfig(config));
  if (adj == nullptr || adj->rows <= 0 || adj->rows != adj->cols) {
    return absl::InvalidArgumentError(
        "gcn: needs a square, non-empty adjacency matrix");
  }
  auto m = std::make_unique<Gcn>(config, backend, adj, input_dim, num_classes);
  RETURN_IF_ERROR(m->Init(seed));
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace ladle
