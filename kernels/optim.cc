#include "kernels/optim.h"

#include <cmath>

#include "common/status_macros.h"

namespace ladle {

float LearningRate(const OptimizerConfig& opt, const ScheduleConfig& sched,
                   int64_t step, int64_t total_steps) {
  if (sched.warmup_steps > 0 && step < sched.warmup_steps) {
    return opt.lr * static_cast<float>(step + 1) /
           static_cast<float>(sched.warmup_steps);
  }
  if (sched.type == ScheduleConfig::Type::kConstant) return opt.lr;
  const int64_t decay_steps =
      std::max<int64_t>(1, total_steps - sched.warmup_steps);
  const double progress = std::min(
      1.0, static_cast<double>(step - sched.warmup_steps) / decay_steps);
  const double span = opt.lr - sched.min_lr;
  if (sched.type == ScheduleConfig::Type::kCosine) {
    return static_cast<float>(sched.min_lr +
                              0.5 * span * (1.0 + std::cos(M_PI * progress)));
  }
  return static_cast<float>(sched.min_lr + span * (1.0 - progress));
}

namespace {

// Runs `update(offset, count, weight_decay)` over runs of parameters sharing a
// decay setting, so contiguous parameters are updated in one pass.
template <typename F>
absl::Status ForEachDecayRun(const ParamStore& params, float wd, F update) {
  const auto& infos = params.infos();
  size_t i = 0;
  while (i < infos.size()) {
    const bool decay = infos[i].decay;
    const int64_t begin = infos[i].offset;
    size_t j = i + 1;
    while (j < infos.size() && infos[j].decay == decay) ++j;
    const int64_t end = j < infos.size() ? infos[j].offset : params.total();
    RETURN_IF_ERROR(update(begin, end - begin, decay ? wd : 0.0f));
    i = j;
  }
  return absl::OkStatus();
}

class AdamW final : public Optimizer {
 public:
  AdamW(const OptimizerConfig& c, ParamStore* p, Backend* be)
      : c_(c), p_(p), be_(be) {}
  absl::Status Init() {
    ASSIGN_OR_RETURN(m_, Tensor<float>::Zeros(be_, {p_->total()}));
    ASSIGN_OR_RETURN(v_, Tensor<float>::Zeros(be_, {p_->total()}));
    return absl::OkStatus();
  }
  absl::Status Step(float lr) override {
    ++steps_;
    AdamWParams hp{lr, c_.beta1, c_.beta2, c_.eps, 0.0f, steps_};
    return ForEachDecayRun(
        *p_, c_.weight_decay, [&](int64_t off, int64_t n, float wd) {
          hp.weight_decay = wd;
          return be_->AdamWUpdate(p_->params().data() + off,
                                  p_->grads().data() + off, m_.data() + off,
                                  v_.data() + off, n, hp);
        });
  }
  std::vector<std::pair<std::string, Tensor<float>*>> State() override {
    return {{"adamw.exp_avg", &m_}, {"adamw.exp_avg_sq", &v_}};
  }

 private:
  OptimizerConfig c_;
  ParamStore* p_;
  Backend* be_;
  Tensor<float> m_, v_;
};

class Sgd final : public Optimizer {
 public:
  Sgd(const OptimizerConfig& c, ParamStore* p, Backend* be)
      : c_(c), p_(p), be_(be) {}
  absl::Status Init() {
    if (c_.momentum > 0) {
      ASSIGN_OR_RETURN(buf_, Tensor<float>::Zeros(be_, {p_->total()}));
    }
    return absl::OkStatus();
  }
  absl::Status Step(float lr) override {
    ++steps_;
    SgdParams hp{lr, c_.momentum, c_.nesterov, 0.0f};
    return ForEachDecayRun(
        *p_, c_.weight_decay, [&](int64_t off, int64_t n, float wd) {
          hp.weight_decay = wd;
          float* buf = c_.momentum > 0 ? buf_.data() + off : nullptr;
          return be_->SgdUpdate(p_->params().data() + off,
                                p_->grads().data() + off, buf, n, hp);
        });
  }
  std::vector<std::pair<std::string, Tensor<float>*>> State() override {
    if (c_.momentum > 0) return {{"sgd.momentum_buffer", &buf_}};
    return {};
  }

 private:
  OptimizerConfig c_;
  ParamStore* p_;
  Backend* be_;
  Tensor<float> buf_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Optimizer>> CreateOptimizer(
    const OptimizerConfig& config, ParamStore* params, Backend* backend) {
  if (config.type == OptimizerConfig::Type::kAdamW) {
    auto opt = std::make_unique<AdamW>(config, params, backend);
    RETURN_IF_ERROR(opt->Init());
    return std::unique_ptr<Optimizer>(std::move(opt));
  }
  auto opt = std::make_unique<Sgd>(config, params, backend);
  RETURN_IF_ERROR(opt->Init());
  return std::unique_ptr<Optimizer>(std::move(opt));
}

}  // namespace ladle
