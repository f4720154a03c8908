#include "train/dropcompute_ranks.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "kernels/device.h"

namespace ladle {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DropComputeRanks>> DropComputeRanks::Create(
    const Options& options, Backend* backend, const DeviceSplit& train,
    int64_t train_size) {
  std::unique_ptr<DropComputeRanks> r(new DropComputeRanks(options, backend));
  RETURN_IF_ERROR(r->CreateRanks(train, train_size));
  return r;
}

absl::Status DropComputeRanks::CreateRanks(const DeviceSplit& train,
                                           int64_t train_size) {
  const DropComputeSpec& d = o_.spec;
  const bool gpu = backend_->device().kind == DeviceKind::kCuda;
  const int first = backend_->device().index;
  if (gpu && first + d.ranks > CudaDeviceCount()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "train.dropcompute.ranks: timing: real on GPUs runs one rank per "
        "GPU, so ranks = ",
        d.ranks, " from cuda:", first, " needs ", first + d.ranks,
        " GPUs; this machine has ", CudaDeviceCount(),
        ". Lower ranks, or use timing: simulated to study more ranks"));
  }
  const int64_t b = o_.micro_batch_size;
  std::vector<Backend*> rank_backends;
  for (int64_t n = 0; n < d.ranks; ++n) {
    auto r = std::make_unique<Rank>();
    Device dev{DeviceKind::kCpu, 0};
    if (gpu) dev = Device{DeviceKind::kCuda, first + static_cast<int>(n)};
    ASSIGN_OR_RETURN(r->be, CreateBackend(dev, 1));
    RETURN_IF_ERROR(r->be->MakeCurrent());
    ASSIGN_OR_RETURN(r->model,
                     CreateDenseModel(o_.model, r->be.get(), o_.num_features,
                                      o_.num_classes, b, 0));
    ASSIGN_OR_RETURN(r->idx, Tensor<int32_t>::Zeros(r->be.get(), {b}));
    ASSIGN_OR_RETURN(r->x,
                     Tensor<float>::Zeros(r->be.get(), {b, o_.num_features}));
    ASSIGN_OR_RETURN(r->y, Tensor<int32_t>::Zeros(r->be.get(), {b}));
    ASSIGN_OR_RETURN(r->loss, Tensor<float>::Zeros(r->be.get(), {b}));
    ASSIGN_OR_RETURN(r->dlogits,
                     Tensor<float>::Zeros(r->be.get(), {b, o_.num_classes}));
    r->data_x = train.x.data();
    r->data_y = train.y.data();
    if (gpu) {
      const int64_t total = r->model->params().total();
      ASSIGN_OR_RETURN(r->grad_dev, Tensor<float>::Zeros(r->be.get(), {total}));
      ASSIGN_OR_RETURN(r->loss_acc, Tensor<float>::Zeros(r->be.get(), {1}));
      if (!(dev == backend_->device())) {  // the data on this rank's GPU
        RETURN_IF_ERROR(backend_->MakeCurrent());
        ASSIGN_OR_RETURN(std::vector<float> hx, train.x.ToHost());
        RETURN_IF_ERROR(r->be->MakeCurrent());
        ASSIGN_OR_RETURN(r->own_x,
                         Tensor<float>::FromHost(
                             r->be.get(), {train_size, o_.num_features}, hx));
        ASSIGN_OR_RETURN(r->own_y,
                         Tensor<int32_t>::FromHost(r->be.get(), {train_size},
                                                   train.host_labels));
        r->data_x = r->own_x.data();
        r->data_y = r->own_y.data();
      }
    } else {
      r->grad_sum.assign(r->model->params().total(), 0.0f);
    }
    rank_backends.push_back(r->be.get());
    ranks_.push_back(std::move(r));
  }
  RETURN_IF_ERROR(backend_->MakeCurrent());
  if (gpu) {
    ASSIGN_OR_RETURN(collective_, CreateNcclCollective(rank_backends));
  }
  return absl::OkStatus();
}

std::string DropComputeRanks::Describe() const {
  return collective_ != nullptr ? collective_->Describe() + ", one rank per GPU"
                                : "in process, CPU threads";
}

absl::Status DropComputeRanks::ShareWeights(ParamStore& ps,
                                            std::vector<float>* weights) {
  if (collective_ == nullptr) {
    ASSIGN_OR_RETURN(*weights, ps.params().ToHost());
    return absl::OkStatus();
  }
  // Rank 0 (on the trial's GPU) takes the weights, NCCL broadcasts them;
  // each rank's gradient sum starts at zero.
  RETURN_IF_ERROR(backend_->Synchronize());
  Rank& r0 = *ranks_[0];
  RETURN_IF_ERROR(r0.be->CopyOnDevice(r0.model->params().params().data(),
                                      ps.params().data(),
                                      ps.total() * sizeof(float)));
  std::vector<float*> bufs;
  for (auto& r : ranks_) bufs.push_back(r->model->params().params().data());
  RETURN_IF_ERROR(collective_->Broadcast(bufs, ps.total(), 0));
  for (auto& r : ranks_) {
    RETURN_IF_ERROR(r->be->MakeCurrent());
    RETURN_IF_ERROR(r->be->Fill(r->grad_dev.data(), ps.total(), 0.0f));
    RETURN_IF_ERROR(r->be->Fill(r->loss_acc.data(), 1, 0.0f));
    RETURN_IF_ERROR(r->be->Synchronize());
  }
  return backend_->MakeCurrent();
}

absl::Status DropComputeRanks::RunRank(
    size_t n, const std::vector<int32_t>& order, int64_t begin, int64_t step,
    const std::vector<std::vector<double>>& times, double tau,
    const std::vector<float>& weights, Clock::time_point start) {
  const bool gpu = collective_ != nullptr;
  const int64_t b = o_.micro_batch_size, M = o_.spec.micro_batches;
  Rank& r = *ranks_[n];
  RETURN_IF_ERROR(r.be->MakeCurrent());
  ParamStore& rp = r.model->params();
  if (!gpu) {
    RETURN_IF_ERROR(rp.params().CopyFromHost(weights.data(), rp.total()));
    std::fill(r.grad_sum.begin(), r.grad_sum.end(), 0.0f);
  }
  r.kept = 0;
  r.loss_sum = 0;
  auto past = [&] { return tau > 0 && Seconds(start, Clock::now()) >= tau; };
  for (int64_t m = 0; m < M; ++m) {
    if (past()) break;
    const auto mb_start = Clock::now();
    const int32_t* rows =
        order.data() + begin + (static_cast<int64_t>(n) * M + m) * b;
    RETURN_IF_ERROR(r.idx.CopyFromHost(rows, b));
    RETURN_IF_ERROR(r.be->GatherRows(r.data_x, r.idx.data(), b, o_.num_features,
                                     r.x.data()));
    RETURN_IF_ERROR(r.be->GatherLabels(r.data_y, r.idx.data(), b, r.y.data()));
    const uint64_t drop_seed = SplitMix64(
        o_.seed ^ SplitMix64(static_cast<uint64_t>(step) * 4096 + n * M + m));
    ASSIGN_OR_RETURN(const float* logits,
                     r.model->Forward(r.x.data(), b, true, drop_seed));
    RETURN_IF_ERROR(r.be->Synchronize());  // the clock sees the GPU
    if (past()) break;                     // the forward is wasted
    RETURN_IF_ERROR(r.be->SoftmaxCrossEntropy(logits, r.y.data(), b,
                                              o_.num_classes, 1.0f,
                                              r.loss.data(), r.dlogits.data()));
    RETURN_IF_ERROR(r.model->Backward(r.dlogits.data()));
    if (gpu) {
      RETURN_IF_ERROR(
          r.be->Axpy(1.0f, rp.grads().data(), r.grad_dev.data(), rp.total()));
      RETURN_IF_ERROR(r.be->SumInto(r.loss.data(), b, 1.0f, r.loss_acc.data()));
      RETURN_IF_ERROR(r.be->Synchronize());
    } else {
      ASSIGN_OR_RETURN(std::vector<float> g, rp.grads().ToHost());
      for (size_t i = 0; i < g.size(); ++i) r.grad_sum[i] += g[i];
      ASSIGN_OR_RETURN(std::vector<float> l, r.loss.ToHost());
      for (float v : l) r.loss_sum += v;
    }
    ++r.kept;
    // Injected delay: this micro-batch takes the noise model's time.
    const double target = times[n][m];
    const double spent = Seconds(mb_start, Clock::now());
    if (target > spent) {
      std::this_thread::sleep_for(
          std::chrono::duration<double>(target - spent));
    }
  }
  if (gpu) {
    ASSIGN_OR_RETURN(std::vector<float> l, r.loss_acc.ToHost());
    r.loss_sum = l[0];
  }
  return absl::OkStatus();
}

absl::Status DropComputeRanks::AllReduce(ParamStore& ps, double denom) {
  if (collective_ != nullptr) {
    std::vector<float*> bufs;
    for (auto& r : ranks_) bufs.push_back(r->grad_dev.data());
    RETURN_IF_ERROR(collective_->AllReduceSum(bufs, ps.total()));
    for (auto& r : ranks_) {
      RETURN_IF_ERROR(r->be->MakeCurrent());
      RETURN_IF_ERROR(r->be->Synchronize());
    }
    RETURN_IF_ERROR(backend_->MakeCurrent());
    RETURN_IF_ERROR(backend_->Fill(ps.grads().data(), ps.total(), 0.0f));
    return backend_->Axpy(static_cast<float>(1.0 / denom),
                          ranks_[0]->grad_dev.data(), ps.grads().data(),
                          ps.total());
  }
  std::vector<float> grad(ps.total(), 0.0f);
  for (const auto& r : ranks_) {
    for (size_t i = 0; i < grad.size(); ++i) grad[i] += r->grad_sum[i];
  }
  for (float& g : grad) g = static_cast<float>(g / denom);
  return ps.grads().CopyFromHost(grad.data(), ps.total());
}

absl::StatusOr<DropComputeRanks::StepResult> DropComputeRanks::Step(
    ParamStore& params, const std::vector<int32_t>& order, int64_t begin,
    int64_t step, const std::vector<std::vector<double>>& times, double tau,
    int64_t global_batch) {
  std::vector<float> weights;
  RETURN_IF_ERROR(ShareWeights(params, &weights));
  const auto start = Clock::now();
  std::vector<absl::Status> status(ranks_.size());
  std::vector<std::thread> threads;
  for (size_t n = 0; n < ranks_.size(); ++n) {
    threads.emplace_back([&, n] {
      status[n] = RunRank(n, order, begin, step, times, tau, weights, start);
    });
  }
  for (std::thread& th : threads) th.join();
  for (const absl::Status& st : status) RETURN_IF_ERROR(st);
  // All-reduce, in rank order (deterministic for a given kept pattern).
  StepResult result;
  for (const auto& r : ranks_) {
    result.kept += r->kept;
    result.loss_sum += r->loss_sum;
  }
  const int64_t rows = result.kept * o_.micro_batch_size;
  const double denom =
      o_.spec.renormalize ? std::max<int64_t>(rows, 1) : global_batch;
  RETURN_IF_ERROR(AllReduce(params, denom));
  result.seconds = Seconds(start, Clock::now()) + o_.spec.comm_seconds;
  return result;
}

}  // namespace ladle
