#include "train/checkpoint.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "kernels/safetensors.h"

namespace ladle {
namespace {

int64_t MetaInt(const SafeTensorsFile& file, const char* key) {
  auto it = file.metadata.find(key);
  return it == file.metadata.end() || it->second.empty()
             ? 0
             : std::stoll(it->second);
}

// The tensors `prefix` + each parameter's name, laid out as `params` lays
// them out, into `dst`; INVALID_ARGUMENT names the first missing one.
absl::Status Gather(const SafeTensorsFile& file, const ParamStore& params,
                    const std::string& prefix, const std::string& what,
                    const std::string& hint, std::vector<float>* dst) {
  for (const ParamInfo& p : params.infos()) {
    const SafeTensor* t = file.Find(prefix + p.name);
    if (t == nullptr || t->shape != p.shape || t->dtype != "F32") {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": tensor ", prefix, p.name,
                       " missing or of another shape ", hint));
    }
    const std::vector<float> v = t->AsFloats();
    std::copy(v.begin(), v.end(), dst->begin() + p.offset);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteCheckpoint(const std::string& path, ParamStore& ps,
                             Optimizer& optimizer,
                             const TrainerCounters& counters,
                             const TrainSpec& spec) {
  SafeTensorsFile file;
  ASSIGN_OR_RETURN(std::vector<float> params, ps.params().ToHost());
  for (const ParamInfo& p : ps.infos()) {
    file.tensors.push_back(
        SafeTensor::FromFloats(p.name, p.shape, params.data() + p.offset));
  }
  for (auto& [state_name, tensor] : optimizer.State()) {
    ASSIGN_OR_RETURN(std::vector<float> state, tensor->ToHost());
    for (const ParamInfo& p : ps.infos()) {
      file.tensors.push_back(SafeTensor::FromFloats(
          absl::StrCat("optimizer.", state_name, ".", p.name), p.shape,
          state.data() + p.offset));
    }
  }
  file.tensors.push_back(SafeTensor::FromFloats(
      "trainer.loss_sums", {static_cast<int64_t>(counters.loss_sums.size())},
      counters.loss_sums.data()));
  file.metadata["window_steps"] = absl::StrCat(counters.window_steps);
  file.metadata["epoch_steps"] = absl::StrCat(counters.epoch_steps);
  file.metadata["format"] = kCheckpointFormat;
  file.metadata["step"] = absl::StrCat(counters.step);
  file.metadata["optimizer_steps"] = absl::StrCat(counters.optimizer_steps);
  file.metadata["spec"] = SpecToJson(spec).dump();
  return WriteSafeTensors(path, file);
}

absl::StatusOr<TrainerCounters> ReadCheckpoint(const std::string& path,
                                               ParamStore* ps,
                                               Optimizer* optimizer) {
  ASSIGN_OR_RETURN(SafeTensorsFile file, ReadSafeTensors(path));
  auto format = file.metadata.find("format");
  if (format == file.metadata.end() || format->second != kCheckpointFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("--resume ", path, ": not a ladle checkpoint"));
  }
  const std::string what = "--resume " + path;
  const std::string hint =
      "(was the checkpoint written for this spec's model?)";
  std::vector<float> params(ps->total(), 0.0f);
  RETURN_IF_ERROR(Gather(file, *ps, "", what, hint, &params));
  RETURN_IF_ERROR(ps->params().CopyFromHost(params.data(), ps->total()));
  for (auto& [state_name, tensor] : optimizer->State()) {
    std::vector<float> state(ps->total(), 0.0f);
    RETURN_IF_ERROR(Gather(file, *ps,
                           absl::StrCat("optimizer.", state_name, "."), what,
                           hint, &state));
    RETURN_IF_ERROR(tensor->CopyFromHost(state.data(), ps->total()));
  }
  TrainerCounters c;
  c.step = MetaInt(file, "step");
  c.optimizer_steps = MetaInt(file, "optimizer_steps");
  if (const SafeTensor* t = file.Find("trainer.loss_sums");
      t != nullptr && t->shape == Shape{3}) {
    c.loss_sums = t->AsFloats();
    c.window_steps = MetaInt(file, "window_steps");
    c.epoch_steps = MetaInt(file, "epoch_steps");
  }
  return c;
}

absl::Status ReadInitialParams(const std::string& path, ParamStore* ps) {
  absl::StatusOr<SafeTensorsFile> file = ReadSafeTensors(path);
  if (!file.ok()) {
    return absl::Status(
        file.status().code(),
        absl::StrCat("init.checkpoint: ", file.status().message()));
  }
  auto format = file->metadata.find("format");
  if (format == file->metadata.end() || format->second != kCheckpointFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("init.checkpoint: ", path, " is not a ladle checkpoint"));
  }
  std::vector<float> params(ps->total(), 0.0f);
  RETURN_IF_ERROR(Gather(file.value(), *ps, "", "init.checkpoint: " + path,
                         "(was it written for this model?)", &params));
  return ps->params().CopyFromHost(params.data(), ps->total());
}

}  // namespace ladle
