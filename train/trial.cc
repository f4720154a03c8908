#include "train/trial.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "kernels/backend.h"
#include "kernels/collective.h"
#include "kernels/data/graph_sampling.h"
#include "kernels/device.h"
#include "kernels/models.h"
#include "kernels/optim.h"
#include "kernels/safetensors.h"
#include "kernels/tensor.h"
#include "spec/result_table.h"
#include "train/checkpoint.h"
#include "train/dropcompute.h"
#include "train/dropcompute_ranks.h"
#include "train/dropcompute_schedule.h"
#include "train/subgraph_sampler.h"
#include "train/trial_data.h"

namespace ladle {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Rounds for readable JSON; metrics keep 6 significant digits.
double Round6(double v) { return std::stod(absl::StrFormat("%.6g", v)); }

}  // namespace

absl::StatusOr<TrainResult> Trial::Run() {
  const auto t0 = Clock::now();
  RETURN_IF_ERROR(Setup());
  const auto t_ready = Clock::now();
  TrainResult result;
  ASSIGN_OR_RETURN(bool finished, TrainLoop(t0));
  if (!finished) {
    result.preempted = true;
    result.checkpoint_path =
        !opt_.checkpoint_path.empty()
            ? opt_.checkpoint_path
            : (std::filesystem::path(opt_.out_dir) / "checkpoint.safetensors")
                  .string();
    RETURN_IF_ERROR(WriteCheckpoint(result.checkpoint_path));
    return result;
  }
  ASSIGN_OR_RETURN(auto val, Evaluate(data_.val));
  ASSIGN_OR_RETURN(auto test, Evaluate(data_.test));
  RETURN_IF_ERROR(WriteCheckpoint(
      (std::filesystem::path(opt_.out_dir) / "model.safetensors").string()));
  const double wall = Seconds(t0, Clock::now());
  Json s;
  s[summary_keys::kTestAccuracy] = Round6(test.first);
  s["test_loss"] = Round6(test.second);
  s[summary_keys::kValAccuracy] = Round6(val.first);
  s["val_loss"] = Round6(val.second);
  s[summary_keys::kFinalTrainLoss] = Round6(last_epoch_loss_);
  s[summary_keys::kSteps] = step_;
  s["epochs"] = epochs_done_;
  s["train_samples"] = data_.train_size;
  s["train_samples_per_second"] =
      Round6(train_seconds_ > 0 ? samples_trained_ / train_seconds_ : 0);
  s["train_gflops_per_second"] =
      Round6(train_seconds_ > 0 ? flops_trained_ / train_seconds_ / 1e9 : 0);
  s["train_seconds"] = Round6(train_seconds_);
  s[summary_keys::kTrainFlops] = flops_trained_;
  s["setup_seconds"] = Round6(Seconds(t0, t_ready));
  s[summary_keys::kWallSeconds] = Round6(wall);
  s["device"] = backend_->device().ToString();
  s["backend"] = backend_->Describe();
  s["parameters"] = num_params_;
  s["seed"] = spec_.seed;
  s["resumed_from_step"] = resumed_from_;
  if (spec_.dropcompute.enabled) {
    s[summary_keys::kDropCompute] = schedule_->Summary(
        step_,
        ranks_ != nullptr ? ranks_->Describe() : "in process, CPU threads");
  }
  s["spec"] = SpecToJson(spec_);
  RETURN_IF_ERROR(WriteJsonFile("summary.json", s));
  result.summary = std::move(s);
  return result;
}

absl::StatusOr<EvalScores> Trial::EvaluateParams(
    const std::vector<float>& flat) {
  ParamStore& ps = model_->params();
  if (static_cast<int64_t>(flat.size()) != ps.total()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "evaluate: ", flat.size(), " parameters, the model has ", ps.total()));
  }
  RETURN_IF_ERROR(ps.params().CopyFromHost(flat.data(), ps.total()));
  EvalScores r;
  ASSIGN_OR_RETURN(auto val, Evaluate(data_.val));
  ASSIGN_OR_RETURN(auto test, Evaluate(data_.test));
  r.val_accuracy = val.first;
  r.val_loss = val.second;
  r.test_accuracy = test.first;
  r.test_loss = test.second;
  return r;
}

absl::Status Trial::Setup() {
  std::error_code ec;
  std::filesystem::create_directories(opt_.out_dir, ec);
  if (ec)
    return absl::FailedPreconditionError(
        absl::StrCat("--out ", opt_.out_dir, ": ", ec.message()));
  ASSIGN_OR_RETURN(Device device, ResolveDevice(spec_.device));
  ASSIGN_OR_RETURN(backend_, CreateBackend(device, spec_.threads));
  Backend* be = backend_.get();
  gcn_ = spec_.model.type == ModelConfig::Type::kGcn;

  ASSIGN_OR_RETURN(data_, LoadTrialData(spec_, be));
  if (data_.host_graph)
    RETURN_IF_ERROR(SetupSampler(std::move(*data_.host_graph)));

  RETURN_IF_ERROR(CreateModel());
  num_params_ = 0;
  for (const ParamInfo& p : model_->params().infos())
    num_params_ += NumElements(p.shape);
  ASSIGN_OR_RETURN(optimizer_,
                   CreateOptimizer(spec_.optimizer, &model_->params(), be));
  ASSIGN_OR_RETURN(row_loss_, Tensor<float>::Zeros(be, {batch_}));
  ASSIGN_OR_RETURN(dlogits_,
                   Tensor<float>::Zeros(be, {batch_, data_.num_classes}));
  ASSIGN_OR_RETURN(preds_, Tensor<int32_t>::Zeros(be, {batch_}));
  ASSIGN_OR_RETURN(loss_acc_,
                   Tensor<float>::Zeros(be, {3}));  // [window, epoch, eval]
  total_steps_ = steps_per_epoch_ * spec_.epochs;
  if (spec_.max_steps > 0)
    total_steps_ = std::min(total_steps_, spec_.max_steps);
  if (spec_.dropcompute.enabled) RETURN_IF_ERROR(SetupDropCompute());
  if (!opt_.resume_from.empty()) {
    RETURN_IF_ERROR(LoadCheckpoint(opt_.resume_from));
  } else if (!spec_.init_checkpoint.empty()) {
    RETURN_IF_ERROR(
        ReadInitialParams(spec_.init_checkpoint, &model_->params()));
  }

  metrics_ = std::fopen(
      (std::filesystem::path(opt_.out_dir) / "metrics.jsonl").c_str(),
      step_ > 0 ? "a" : "w");
  if (metrics_ == nullptr)
    return absl::InternalError("cannot open metrics.jsonl for writing");
  if (opt_.log_progress) {
    LOG(INFO) << "training on " << backend_->Describe() << ": " << num_params_
              << " parameters, " << data_.train_size << " training samples, "
              << total_steps_ << " steps";
  }
  return absl::OkStatus();
}

absl::Status Trial::CreateModel() {
  Backend* be = backend_.get();
  if (gcn_) {
    ASSIGN_OR_RETURN(model_, CreateGcnModel(spec_.model, be, &data_.adjacency,
                                            data_.num_features,
                                            data_.num_classes, spec_.seed));
    batch_ = data_.adjacency.rows;
    steps_per_epoch_ = sampler_ ? sampler_->steps_per_epoch() : 1;
    source_ = sampler_ ? SampledGraphBatches(sampler_.get(), data_)
                       : FullGraphBatches(data_);
    return absl::OkStatus();
  }
  const bool dropcompute = spec_.dropcompute.enabled;
  if (dropcompute) {
    // A step is one global batch: ranks × micro_batches × batch_size rows.
    const DropComputeSpec& d = spec_.dropcompute;
    batch_ = d.ranks * d.micro_batches * spec_.batch_size;
    if (batch_ > data_.train_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "train.dropcompute: ranks × micro_batches × train.batch_size = ",
          batch_, " exceeds the ", data_.train_size, " training samples"));
    }
  } else {
    batch_ = std::min<int64_t>(spec_.batch_size, data_.train_size);
  }
  ASSIGN_OR_RETURN(model_,
                   CreateDenseModel(spec_.model, be, data_.num_features,
                                    data_.num_classes, batch_, spec_.seed));
  steps_per_epoch_ = dropcompute
                         ? data_.train_size / batch_  // whole global batches
                         : (data_.train_size + batch_ - 1) / batch_;
  ASSIGN_OR_RETURN(
      std::unique_ptr<DenseBatches> dense,
      DenseBatches::Create(be, data_.train, data_.num_features, batch_));
  dense_ = dense.get();
  source_ = std::move(dense);
  return absl::OkStatus();
}

absl::Status Trial::SetupSampler(Graph g) {
  const SamplerSpec& sp = spec_.sampler;
  ASSIGN_OR_RETURN(sampler_,
                   SubgraphSampler::Create(
                       sp, sp.seed != 0 ? sp.seed : spec_.seed, std::move(g),
                       data_.adjacency.values.size(), backend_.get()));
  return absl::OkStatus();
}

absl::Status Trial::SetupDropCompute() {
  const DropComputeSpec& d = spec_.dropcompute;
  double base = d.base_seconds;
  if (base <= 0) {
    const int64_t b = spec_.batch_size;
    std::vector<int32_t> idx(b);
    std::iota(idx.begin(), idx.end(), 0);
    Backend* be = backend_.get();
    ASSIGN_OR_RETURN(const StepBatch batch, dense_->Gather(idx.data(), b));
    std::vector<double> samples;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = Clock::now();
      ASSIGN_OR_RETURN(const float* logits,
                       model_->Forward(batch.x, b, true, 0));
      RETURN_IF_ERROR(
          be->SoftmaxCrossEntropy(logits, batch.y, b, data_.num_classes,
                                  1.0f / b, row_loss_.data(), dlogits_.data()));
      RETURN_IF_ERROR(model_->Backward(dlogits_.data()));
      RETURN_IF_ERROR(be->Synchronize());
      samples.push_back(Seconds(t0, Clock::now()));
    }
    std::sort(samples.begin(), samples.end());
    base = samples[2];
  }
  schedule_ = std::make_unique<DropComputeSchedule>(d, spec_.seed,
                                                    spec_.batch_size, base);
  if (d.timing != "real")
    dense_->KeepMicroBatches(schedule_.get(), batch_, d.renormalize);
  if (d.timing == "real") {
    DropComputeRanks::Options o{
        d,          spec_.model,        spec_.batch_size,
        spec_.seed, data_.num_features, data_.num_classes};
    ASSIGN_OR_RETURN(ranks_,
                     DropComputeRanks::Create(o, backend_.get(), data_.train,
                                              data_.train_size));
  }
  return absl::OkStatus();
}

absl::Status Trial::RealDropComputeStep(const std::vector<int32_t>& order,
                                        int64_t begin) {
  std::vector<std::vector<double>> t;
  schedule_->Draw(step_, &t);
  const double tau = schedule_->ThresholdAt(step_);
  ASSIGN_OR_RETURN(
      DropComputeRanks::StepResult r,
      ranks_->Step(model_->params(), order, begin, step_, t, tau, batch_));
  const int64_t rows = r.kept * spec_.batch_size;
  if (rows > 0) {
    const float lr =
        LearningRate(spec_.optimizer, spec_.schedule, step_, total_steps_);
    RETURN_IF_ERROR(optimizer_->Step(lr));
    last_lr_ = lr;
    float acc[2];
    RETURN_IF_ERROR(backend_->CopyToHost(acc, loss_acc_.data(), sizeof(acc)));
    acc[0] += static_cast<float>(r.loss_sum / rows);
    acc[1] += static_cast<float>(r.loss_sum / rows);
    RETURN_IF_ERROR(backend_->CopyToDevice(loss_acc_.data(), acc, sizeof(acc)));
  }
  schedule_->RecordRealStep(step_, r.seconds, r.kept);
  samples_trained_ += rows;
  window_samples_ += rows;
  flops_trained_ += model_->TrainFlops(rows);
  ++step_;
  ++window_steps_;
  ++epoch_steps_;
  return absl::OkStatus();
}

std::vector<int32_t> Trial::EpochOrder(int64_t epoch) const {
  std::vector<int32_t> order(data_.train_size);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(SplitMix64(spec_.seed * 0x9E3779B97F4A7C15ULL +
                     static_cast<uint64_t>(epoch)));
  for (int64_t i = data_.train_size - 1; i > 0; --i)
    std::swap(order[i], order[rng.Below(i + 1)]);
  return order;
}

bool Trial::StopRequested() const {
  if (opt_.stop_at_step > 0 && step_ >= opt_.stop_at_step) return true;
  return opt_.stop_requested != nullptr &&
         opt_.stop_requested->load(std::memory_order_relaxed);
}

absl::Status Trial::Step(const std::vector<int32_t>& order, int64_t begin,
                         int64_t end) {
  if (spec_.dropcompute.enabled && spec_.dropcompute.timing == "real")
    return RealDropComputeStep(order, begin);
  Backend* be = backend_.get();
  ASSIGN_OR_RETURN(std::optional<StepBatch> batch,
                   source_->Next(step_, order, begin, end));
  if (!batch.has_value()) {  // every rank dropped everything: no update
    ++step_;
    ++window_steps_;
    ++epoch_steps_;
    return absl::OkStatus();
  }
  if (batch->graph.has_value())
    RETURN_IF_ERROR(model_->UseGraph(*batch->graph));
  const float* x = batch->x;
  const int32_t* y = batch->y;
  const int64_t rows = batch->rows, counted = batch->counted;
  const uint64_t dropout_seed =
      SplitMix64(spec_.seed ^ SplitMix64(static_cast<uint64_t>(step_)));
  ASSIGN_OR_RETURN(const float* logits,
                   model_->Forward(x, rows, true, dropout_seed));
  const float scale = 1.0f / static_cast<float>(counted);
  RETURN_IF_ERROR(be->SoftmaxCrossEntropy(logits, y, rows, data_.num_classes,
                                          scale, row_loss_.data(),
                                          dlogits_.data()));
  // Logged loss: the mean over the rows computed.
  const float loss_scale = 1.0f / static_cast<float>(rows);
  const float log_scale = gcn_ ? scale : loss_scale;
  RETURN_IF_ERROR(
      be->SumInto(row_loss_.data(), rows, log_scale, loss_acc_.data()));
  RETURN_IF_ERROR(
      be->SumInto(row_loss_.data(), rows, log_scale, loss_acc_.data() + 1));
  RETURN_IF_ERROR(model_->Backward(dlogits_.data()));
  const float lr =
      LearningRate(spec_.optimizer, spec_.schedule, step_, total_steps_);
  RETURN_IF_ERROR(optimizer_->Step(lr));
  last_lr_ = lr;
  samples_trained_ += gcn_ ? counted : rows;
  window_samples_ += gcn_ ? counted : rows;
  flops_trained_ += model_->TrainFlops(rows);
  ++step_;
  ++window_steps_;
  ++epoch_steps_;
  return absl::OkStatus();
}

absl::StatusOr<bool> Trial::TrainLoop(Clock::time_point t0) {
  int64_t epoch = step_ / steps_per_epoch_;
  while (step_ < total_steps_) {
    const std::vector<int32_t> order =
        gcn_ ? std::vector<int32_t>() : EpochOrder(epoch);
    int64_t pos = step_ - epoch * steps_per_epoch_;
    while (pos < steps_per_epoch_ && step_ < total_steps_) {
      if (StopRequested()) return false;
      const auto ts = Clock::now();
      const int64_t begin = pos * batch_,
                    end = std::min(data_.train_size, begin + batch_);
      RETURN_IF_ERROR(Step(order, begin, end));
      if (step_ % spec_.log_every == 0 || step_ == total_steps_) {
        RETURN_IF_ERROR(backend_->Synchronize());
        window_seconds_ += Seconds(ts, Clock::now());
        RETURN_IF_ERROR(LogTrain(t0));
      } else {
        window_seconds_ += Seconds(ts, Clock::now());
      }
      ++pos;
    }
    const bool epoch_done = pos == steps_per_epoch_;
    if (!epoch_done) break;  // max_steps cut the epoch short
    ++epoch;
    epochs_done_ = epoch;
    float acc[2];
    RETURN_IF_ERROR(backend_->CopyToHost(acc, loss_acc_.data(), sizeof(acc)));
    last_epoch_loss_ = epoch_steps_ > 0 ? acc[1] / epoch_steps_ : 0.0;
    epoch_steps_ = 0;
    acc[1] = 0;
    RETURN_IF_ERROR(backend_->CopyToDevice(loss_acc_.data(), acc, sizeof(acc)));
    if (epoch % spec_.eval_every == 0 || step_ == total_steps_) {
      ASSIGN_OR_RETURN(auto val, Evaluate(data_.val));
      Json line = {{"step", step_},
                   {"epoch", epoch},
                   {"train_loss", Round6(last_epoch_loss_)},
                   {"val_accuracy", Round6(val.first)},
                   {"val_loss", Round6(val.second)},
                   {"elapsed_seconds", Round6(Seconds(t0, Clock::now()))}};
      WriteMetric(line);
    }
  }
  if (epoch_steps_ >
      0) {  // stopped mid-epoch by max_steps: report that partial epoch
    float acc[2];
    RETURN_IF_ERROR(backend_->CopyToHost(acc, loss_acc_.data(), sizeof(acc)));
    last_epoch_loss_ = acc[1] / epoch_steps_;
  }
  return true;
}

absl::Status Trial::LogTrain(Clock::time_point t0) {
  float acc[2];
  RETURN_IF_ERROR(backend_->CopyToHost(acc, loss_acc_.data(), sizeof(acc)));
  const double loss = acc[0] / window_steps_;
  train_seconds_ += window_seconds_;
  const double sps =
      window_seconds_ > 0 ? window_samples_ / window_seconds_ : 0;
  Json line = {{"step", step_},
               {"epoch", Round6(static_cast<double>(step_) / steps_per_epoch_)},
               {"train_loss", Round6(loss)},
               {"lr", Round6(last_lr_)},
               {"samples_per_second", Round6(sps)},
               {"elapsed_seconds", Round6(Seconds(t0, Clock::now()))}};
  WriteMetric(line);
  acc[0] = 0;
  RETURN_IF_ERROR(backend_->CopyToDevice(loss_acc_.data(), acc, sizeof(acc)));
  window_steps_ = 0;
  window_samples_ = 0;
  window_seconds_ = 0;
  return absl::OkStatus();
}

void Trial::WriteMetric(const Json& line) {
  const std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), metrics_);
  std::fflush(metrics_);
  if (opt_.log_progress) LOG(INFO) << line.dump();
}

absl::StatusOr<std::pair<double, double>> Trial::Evaluate(
    const DeviceSplit& split) {
  if (split.size == 0) return std::make_pair(0.0, 0.0);
  Backend* be = backend_.get();
  float loss_sum = 0;
  float* loss = loss_acc_.data() + 2;  // the eval slot
  RETURN_IF_ERROR(be->Fill(loss, 1, 0.0f));
  int64_t correct = 0;
  std::vector<int32_t> preds;
  if (gcn_) {
    if (sampler_) RETURN_IF_ERROR(model_->UseGraph(data_.adjacency.view()));
    ASSIGN_OR_RETURN(const float* logits,
                     model_->Forward(data_.graph_x.data(), batch_, false, 0));
    RETURN_IF_ERROR(be->SoftmaxCrossEntropy(logits, split.y.data(), batch_,
                                            data_.num_classes, 0.0f,
                                            row_loss_.data(), nullptr));
    RETURN_IF_ERROR(be->SumInto(row_loss_.data(), batch_, 1.0f, loss));
    RETURN_IF_ERROR(
        be->ArgmaxRows(logits, batch_, data_.num_classes, preds_.data()));
    ASSIGN_OR_RETURN(preds, preds_.ToHost());
    for (int32_t n : split.nodes) correct += preds[n] == split.host_labels[n];
  } else {
    for (int64_t begin = 0; begin < split.size; begin += batch_) {
      const int64_t rows = std::min(batch_, split.size - begin);
      const float* x = split.x.data() + begin * data_.num_features;
      ASSIGN_OR_RETURN(const float* logits, model_->Forward(x, rows, false, 0));
      RETURN_IF_ERROR(be->SoftmaxCrossEntropy(logits, split.y.data() + begin,
                                              rows, data_.num_classes, 0.0f,
                                              row_loss_.data(), nullptr));
      RETURN_IF_ERROR(be->SumInto(row_loss_.data(), rows, 1.0f, loss));
      RETURN_IF_ERROR(
          be->ArgmaxRows(logits, rows, data_.num_classes, preds_.data()));
      std::vector<int32_t> chunk(rows);
      RETURN_IF_ERROR(
          be->CopyToHost(chunk.data(), preds_.data(), sizeof(int32_t) * rows));
      for (int64_t i = 0; i < rows; ++i)
        correct += chunk[i] == split.host_labels[begin + i];
    }
  }
  RETURN_IF_ERROR(be->CopyToHost(&loss_sum, loss, sizeof(float)));
  return std::make_pair(static_cast<double>(correct) / split.size,
                        double{loss_sum} / split.size);
}

absl::Status Trial::WriteCheckpoint(const std::string& path) {
  TrainerCounters c;
  c.step = step_;
  c.optimizer_steps = optimizer_->steps_taken();
  ASSIGN_OR_RETURN(c.loss_sums, loss_acc_.ToHost());
  c.window_steps = window_steps_;
  c.epoch_steps = epoch_steps_;
  return ::ladle::WriteCheckpoint(path, model_->params(), *optimizer_, c,
                                  spec_);
}

absl::Status Trial::LoadCheckpoint(const std::string& path) {
  ASSIGN_OR_RETURN(TrainerCounters c,
                   ReadCheckpoint(path, &model_->params(), optimizer_.get()));
  step_ = c.step;
  optimizer_->set_steps_taken(c.optimizer_steps);
  if (step_ < 0 || step_ > total_steps_) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resume ", path, ": step ", step_,
                     " is beyond this spec's ", total_steps_, " steps"));
  }
  resumed_from_ = step_;
  epochs_done_ = step_ / steps_per_epoch_;
  // Loss sums of the running log window and epoch continue where they were.
  if (!c.loss_sums.empty()) {
    RETURN_IF_ERROR(loss_acc_.CopyFromHost(c.loss_sums.data(), 3));
    window_steps_ = c.window_steps;
    epoch_steps_ = c.epoch_steps;
  }
  return absl::OkStatus();
}

absl::Status Trial::WriteJsonFile(const std::string& name, const Json& j) {
  const std::filesystem::path path = std::filesystem::path(opt_.out_dir) / name;
  const std::string tmp = path.string() + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr)
    return absl::InternalError(absl::StrCat("cannot write ", tmp));
  const std::string text = j.dump(2) + "\n";
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  return absl::OkStatus();
}

}  // namespace ladle
