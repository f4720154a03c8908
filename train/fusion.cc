#include "train/fusion.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "kernels/backend.h"
#include "kernels/device.h"
#include "kernels/tensor.h"
#include "train/checkpoint.h"

namespace ladle {
namespace {

// A tensor of `file` as a row-major float matrix [rows, cols] (cols = 1 for
// vectors), checked against the expected shape.
absl::StatusOr<std::vector<float>> Take(const SafeTensorsFile& file,
                                        const std::string& which,
                                        const std::string& name,
                                        std::vector<int64_t> shape) {
  const SafeTensor* t = file.Find(name);
  if (t == nullptr || t->dtype != "F32" || t->shape != shape) {
    std::string want;
    for (int64_t d : shape) absl::StrAppend(&want, want.empty() ? "" : "x", d);
    return absl::InvalidArgumentError(
        absl::StrCat("fuse.", which, ": tensor ", name, " missing or not ",
                     want, " (was it trained with this spec's model?)"));
  }
  return t->AsFloats();
}

}  // namespace

namespace {

// Row-major matrix helpers for the fused ResMLP.
struct Mat {
  int64_t rows = 0, cols = 0;
  std::vector<float> v;
  float& at(int64_t r, int64_t c) { return v[r * cols + c]; }
  float at(int64_t r, int64_t c) const { return v[r * cols + c]; }
};

Mat Zeros(int64_t rows, int64_t cols) {
  return Mat{rows, cols, std::vector<float>(rows * cols, 0.0f)};
}

// [[A, 0], [0, B]].
Mat BlockDiag(const Mat& a, const Mat& b) {
  Mat m = Zeros(a.rows + b.rows, a.cols + b.cols);
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t c = 0; c < a.cols; ++c) m.at(r, c) = a.at(r, c);
  for (int64_t r = 0; r < b.rows; ++r)
    for (int64_t c = 0; c < b.cols; ++c)
      m.at(a.rows + r, a.cols + c) = b.at(r, c);
  return m;
}

// W·diag(γ) and b + W·β: a LayerNorm affine folded into the next linear layer.
void FoldAffine(Mat* w, std::vector<float>* bias, const std::vector<float>& g,
                const std::vector<float>& beta) {
  for (int64_t r = 0; r < w->rows; ++r) {
    double acc = (*bias)[r];
    for (int64_t c = 0; c < w->cols; ++c) {
      acc += double{w->at(r, c)} * beta[c];
      w->at(r, c) *= g[c];
    }
    (*bias)[r] = static_cast<float>(acc);
  }
}

std::vector<float> Concat(const std::vector<float>& a,
                          const std::vector<float>& b) {
  std::vector<float> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

namespace {

// Builds the wide ResMLP's tensors from two narrow checkpoints, layer by
// layer (FuseResMlp).
class ResMlpFuser {
 public:
  ResMlpFuser(const SafeTensorsFile& a, const SafeTensorsFile& b, int64_t in,
              int64_t d, bool grouped)
      : a_(a), b_(b), in_(in), d_(d), grouped_(grouped) {}

  // Embedding: outputs stacked.
  absl::Status Embed() {
    ASSIGN_OR_RETURN(Mat wa, Matrix(a_, "a", "embed.weight", d_, in_));
    ASSIGN_OR_RETURN(Mat wb, Matrix(b_, "b", "embed.weight", d_, in_));
    Mat w = Zeros(2 * d_, in_);
    std::copy(wa.v.begin(), wa.v.end(), w.v.begin());
    std::copy(wb.v.begin(), wb.v.end(), w.v.begin() + d_ * in_);
    Put("embed.weight", w);
    ASSIGN_OR_RETURN(std::vector<float> ba, Take(a_, "a", "embed.bias", {d_}));
    ASSIGN_OR_RETURN(std::vector<float> bb, Take(b_, "b", "embed.bias", {d_}));
    PutVec("embed.bias", Concat(ba, bb));
    return absl::OkStatus();
  }

  // A LayerNorm and the linear layer after it. Grouped: identity LN of
  // width d (shared by the halves), affines folded into the layer. The head
  // is ½ [W_a W_b], ½ (b_a + b_b); other layers block-diagonal.
  absl::Status NormThen(const std::string& norm, const std::string& next_w,
                        const std::string& next_b, int64_t out_rows,
                        bool head) {
    ASSIGN_OR_RETURN(std::vector<float> ga,
                     Take(a_, "a", norm + ".weight", {d_}));
    ASSIGN_OR_RETURN(std::vector<float> gb,
                     Take(b_, "b", norm + ".weight", {d_}));
    ASSIGN_OR_RETURN(std::vector<float> za,
                     Take(a_, "a", norm + ".bias", {d_}));
    ASSIGN_OR_RETURN(std::vector<float> zb,
                     Take(b_, "b", norm + ".bias", {d_}));
    ASSIGN_OR_RETURN(Mat wa, Matrix(a_, "a", next_w, out_rows, d_));
    ASSIGN_OR_RETURN(Mat wb, Matrix(b_, "b", next_w, out_rows, d_));
    ASSIGN_OR_RETURN(std::vector<float> ba, Take(a_, "a", next_b, {out_rows}));
    ASSIGN_OR_RETURN(std::vector<float> bb, Take(b_, "b", next_b, {out_rows}));
    if (grouped_) {
      FoldAffine(&wa, &ba, ga, za);
      FoldAffine(&wb, &bb, gb, zb);
      PutVec(norm + ".weight", std::vector<float>(d_, 1.0f));
      PutVec(norm + ".bias", std::vector<float>(d_, 0.0f));
    } else {
      PutVec(norm + ".weight", Concat(ga, gb));
      PutVec(norm + ".bias", Concat(za, zb));
    }
    if (!head) {
      Put(next_w, BlockDiag(wa, wb));
      PutVec(next_b, Concat(ba, bb));
      return absl::OkStatus();
    }
    Mat w = Zeros(out_rows, 2 * d_);
    std::vector<float> bias(out_rows);
    for (int64_t r = 0; r < out_rows; ++r) {
      for (int64_t c = 0; c < d_; ++c) {
        w.at(r, c) = 0.5f * wa.at(r, c);
        w.at(r, d_ + c) = 0.5f * wb.at(r, c);
      }
      bias[r] = 0.5f * (ba[r] + bb[r]);
    }
    Put(next_w, w);
    PutVec(next_b, bias);
    return absl::OkStatus();
  }

  // Residual block `blk` of hidden width h.
  absl::Status Block(int64_t blk, int64_t h) {
    const std::string p = absl::StrCat("blocks.", blk);
    RETURN_IF_ERROR(
        NormThen(p + ".norm", p + ".fc1.weight", p + ".fc1.bias", h, false));
    ASSIGN_OR_RETURN(Mat w2a, Matrix(a_, "a", p + ".fc2.weight", d_, h));
    ASSIGN_OR_RETURN(Mat w2b, Matrix(b_, "b", p + ".fc2.weight", d_, h));
    Put(p + ".fc2.weight", BlockDiag(w2a, w2b));
    ASSIGN_OR_RETURN(std::vector<float> b2a,
                     Take(a_, "a", p + ".fc2.bias", {d_}));
    ASSIGN_OR_RETURN(std::vector<float> b2b,
                     Take(b_, "b", p + ".fc2.bias", {d_}));
    PutVec(p + ".fc2.bias", Concat(b2a, b2b));
    return absl::OkStatus();
  }

  SafeTensorsFile Release() && { return std::move(out_); }

 private:
  absl::StatusOr<Mat> Matrix(const SafeTensorsFile& f, const char* which,
                             const std::string& name, int64_t r, int64_t c) {
    ASSIGN_OR_RETURN(std::vector<float> v, Take(f, which, name, {r, c}));
    return Mat{r, c, std::move(v)};
  }
  void Put(const std::string& name, const Mat& m) {
    out_.tensors.push_back(
        SafeTensor::FromFloats(name, {m.rows, m.cols}, m.v.data()));
  }
  void PutVec(const std::string& name, const std::vector<float>& v) {
    out_.tensors.push_back(SafeTensor::FromFloats(
        name, {static_cast<int64_t>(v.size())}, v.data()));
  }

  const SafeTensorsFile& a_;
  const SafeTensorsFile& b_;
  const int64_t in_, d_;
  const bool grouped_;
  SafeTensorsFile out_;
};

}  // namespace

absl::StatusOr<SafeTensorsFile> FuseResMlp(const SafeTensorsFile& a,
                                           const SafeTensorsFile& b,
                                           const ModelConfig& narrow,
                                           FusionLayerNorm ln) {
  if (narrow.type != ModelConfig::Type::kResMlp || narrow.ln_groups != 1) {
    return absl::InvalidArgumentError(
        "model: fusing resmlps needs narrow resmlps with ln_groups 1");
  }
  const SafeTensor* e = a.Find("embed.weight");
  const SafeTensor* hd = a.Find("head.weight");
  if (e == nullptr || e->shape.size() != 2 || hd == nullptr ||
      hd->shape.size() != 2) {
    return absl::InvalidArgumentError(
        "fuse.a: no embed.weight / head.weight (not a resmlp checkpoint)");
  }
  ResMlpFuser fuser(a, b, e->shape[1], narrow.width,
                    ln == FusionLayerNorm::kGrouped);
  RETURN_IF_ERROR(fuser.Embed());
  for (int64_t blk = 0; blk < narrow.blocks; ++blk)
    RETURN_IF_ERROR(fuser.Block(blk, narrow.width * narrow.expansion));
  RETURN_IF_ERROR(
      fuser.NormThen("norm", "head.weight", "head.bias", hd->shape[0], true));
  return std::move(fuser).Release();
}

absl::StatusOr<SafeTensorsFile> FuseMlp(const SafeTensorsFile& a,
                                        const SafeTensorsFile& b,
                                        const ModelConfig& narrow) {
  if (narrow.type != ModelConfig::Type::kMlp) {
    return absl::InvalidArgumentError("model.type: fusion needs an mlp");
  }
  const SafeTensor* first = a.Find("layers.0.weight");
  if (first == nullptr || first->shape.size() != 2) {
    return absl::InvalidArgumentError(
        "fuse.a: no 2-D tensor layers.0.weight (not an mlp checkpoint)");
  }
  const int64_t input_dim = first->shape[1];
  const size_t layers = narrow.hidden.size() + 1;
  const SafeTensor* last =
      a.Find(absl::StrCat("layers.", layers - 1, ".weight"));
  if (last == nullptr || last->shape.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("fuse.a: no output layer layers.", layers - 1,
                     ".weight (model.hidden must match the narrow models)"));
  }
  const int64_t classes = last->shape[0];
  SafeTensorsFile out;
  int64_t in = input_dim;  // narrow input width of layer i
  for (size_t i = 0; i < layers; ++i) {
    const bool is_first = i == 0, is_last = i + 1 == layers;
    const int64_t o = is_last ? classes : narrow.hidden[i];
    const std::string w = absl::StrCat("layers.", i, ".weight");
    const std::string bn = absl::StrCat("layers.", i, ".bias");
    ASSIGN_OR_RETURN(std::vector<float> wa, Take(a, "a", w, {o, in}));
    ASSIGN_OR_RETURN(std::vector<float> wb, Take(b, "b", w, {o, in}));
    ASSIGN_OR_RETURN(std::vector<float> ba, Take(a, "a", bn, {o}));
    ASSIGN_OR_RETURN(std::vector<float> bb, Take(b, "b", bn, {o}));
    // Weights are [out, in], row-major.
    const int64_t wide_in = is_first ? in : 2 * in;
    const int64_t wide_out = is_last ? o : 2 * o;
    std::vector<float> wf(wide_out * wide_in, 0.0f), bf(wide_out, 0.0f);
    if (is_last) {
      for (int64_t r = 0; r < o; ++r) {
        for (int64_t c = 0; c < in; ++c) {
          wf[r * wide_in + c] = 0.5f * wa[r * in + c];
          wf[r * wide_in + in + c] = 0.5f * wb[r * in + c];
        }
        bf[r] = 0.5f * (ba[r] + bb[r]);
      }
    } else {
      const int64_t col_b = is_first ? 0 : in;  // b's inputs: its own half
      for (int64_t r = 0; r < o; ++r) {
        for (int64_t c = 0; c < in; ++c) {
          wf[r * wide_in + c] = wa[r * in + c];
          wf[(o + r) * wide_in + col_b + c] = wb[r * in + c];
        }
        bf[r] = ba[r];
        bf[o + r] = bb[r];
      }
    }
    out.tensors.push_back(
        SafeTensor::FromFloats(w, {wide_out, wide_in}, wf.data()));
    out.tensors.push_back(SafeTensor::FromFloats(bn, {wide_out}, bf.data()));
    in = o;
  }
  return out;
}

namespace {

absl::Status LoadParams(Model& model, const SafeTensorsFile& file) {
  ParamStore& ps = model.params();
  std::vector<float> params(ps.total(), 0.0f);
  for (const ParamInfo& p : ps.infos()) {
    const SafeTensor* t = file.Find(p.name);
    if (t == nullptr || t->shape != p.shape) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", p.name, " missing or misshapen"));
    }
    const std::vector<float> v = t->AsFloats();
    std::copy(v.begin(), v.end(), params.begin() + p.offset);
  }
  return ps.params().CopyFromHost(params.data(), ps.total());
}

// Logits of `config` with parameters `file` on x[batch, in] (CPU).
absl::StatusOr<std::vector<float>> Logits(
    Backend* be, const ModelConfig& config, const SafeTensorsFile& file,
    const std::vector<float>& x, int64_t batch, int64_t in, int64_t classes) {
  ASSIGN_OR_RETURN(std::unique_ptr<Model> m,
                   CreateDenseModel(config, be, in, classes, batch, 1));
  RETURN_IF_ERROR(LoadParams(*m, file));
  ASSIGN_OR_RETURN(Tensor<float> dx,
                   Tensor<float>::FromHost(be, {batch, in}, x));
  ASSIGN_OR_RETURN(const float* logits, m->Forward(dx.data(), batch, false, 0));
  std::vector<float> out(batch * classes);
  RETURN_IF_ERROR(
      be->CopyToHost(out.data(), logits, out.size() * sizeof(float)));
  return out;
}

}  // namespace

namespace {

// Exactness: on random inputs, the largest difference of the fused model's
// logits from the mean of the narrow ones', relative to that mean.
absl::StatusOr<double> FusionError(const TrainSpec& spec,
                                   const SafeTensorsFile& a,
                                   const SafeTensorsFile& b,
                                   const SafeTensorsFile& fused,
                                   FusionLayerNorm ln) {
  const bool resmlp = spec.model.type == ModelConfig::Type::kResMlp;
  const int64_t in =
      a.Find(resmlp ? "embed.weight" : "layers.0.weight")->shape[1];
  const int64_t classes =
      fused
          .Find(resmlp ? std::string("head.weight")
                       : absl::StrCat("layers.", spec.model.hidden.size(),
                                      ".weight"))
          ->shape[0];
  ASSIGN_OR_RETURN(Device cpu, ResolveDevice("cpu"));
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> be, CreateBackend(cpu, 1));
  constexpr int64_t kRows = 64;
  std::vector<float> x(kRows * in);
  Rng rng(SplitMix64(spec.seed ^ 0xF05EULL));
  for (float& v : x) v = static_cast<float>(rng.Uniform() * 2.0 - 1.0);
  const ModelConfig wide = WidenedConfig(spec.model, ln);
  ASSIGN_OR_RETURN(std::vector<float> la,
                   Logits(be.get(), spec.model, a, x, kRows, in, classes));
  ASSIGN_OR_RETURN(std::vector<float> lb,
                   Logits(be.get(), spec.model, b, x, kRows, in, classes));
  ASSIGN_OR_RETURN(std::vector<float> lf,
                   Logits(be.get(), wide, fused, x, kRows, in, classes));
  double max_err = 0, max_ref = 0;
  for (size_t i = 0; i < lf.size(); ++i) {
    const double mean = 0.5 * (double{la[i]} + double{lb[i]});
    max_err = std::max(max_err, std::fabs(lf[i] - mean));
    max_ref = std::max(max_ref, std::fabs(mean));
  }
  return max_ref > 0 ? max_err / max_ref : max_err;
}

// Parameters of a narrow checkpoint (optimizer and trainer state left out).
int64_t NarrowParameters(const SafeTensorsFile& a) {
  int64_t n = 0;
  for (const SafeTensor& t : a.tensors) {
    if (t.name.rfind("optimizer.", 0) == 0 || t.name.rfind("trainer.", 0) == 0)
      continue;
    int64_t e = 1;
    for (int64_t d : t.shape) e *= d;
    n += e;
  }
  return n;
}

}  // namespace

absl::StatusOr<TrainResult> RunFuse(const TrainSpec& spec,
                                    const TrainOptions& options) {
  auto read = [](const std::string& which,
                 const std::string& path) -> absl::StatusOr<SafeTensorsFile> {
    absl::StatusOr<SafeTensorsFile> f = ReadSafeTensors(path);
    if (!f.ok()) {
      return absl::Status(
          f.status().code(),
          absl::StrCat("fuse.", which, ": ", f.status().message()));
    }
    return f;
  };
  ASSIGN_OR_RETURN(SafeTensorsFile a, read("a", spec.fuse.a));
  ASSIGN_OR_RETURN(SafeTensorsFile b, read("b", spec.fuse.b));
  const FusionLayerNorm ln = spec.fuse.layernorm == "full"
                                 ? FusionLayerNorm::kFull
                                 : FusionLayerNorm::kGrouped;
  const bool resmlp = spec.model.type == ModelConfig::Type::kResMlp;
  ASSIGN_OR_RETURN(SafeTensorsFile fused, resmlp
                                              ? FuseResMlp(a, b, spec.model, ln)
                                              : FuseMlp(a, b, spec.model));

  ASSIGN_OR_RETURN(const double rel, FusionError(spec, a, b, fused, ln));
  const ModelConfig wide = WidenedConfig(spec.model, ln);

  // The fused model as a ladle checkpoint of the wide spec, then evaluated
  // like a trial with no training steps.
  TrainSpec wide_spec = spec;
  wide_spec.task = TrainTask::kTrain;
  wide_spec.fuse = {};
  wide_spec.model = wide;
  wide_spec.epochs = 0;
  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  const std::string init =
      (std::filesystem::path(options.out_dir) / "fused-init.safetensors")
          .string();
  fused.metadata["format"] = kCheckpointFormat;
  fused.metadata["step"] = "0";
  wide_spec.init_checkpoint = init;
  fused.metadata["spec"] = SpecToJson(wide_spec).dump();
  RETURN_IF_ERROR(WriteSafeTensors(init, fused));
  ASSIGN_OR_RETURN(TrainResult result, RunTrial(wide_spec, options));
  std::filesystem::remove(init, ec);
  if (result.preempted) return result;
  result.summary["spec"] = SpecToJson(spec);  // the fuse job's own spec
  result.summary["fused_model"] = SpecToJson(wide_spec)["model"];
  result.summary["fusion_max_rel_error"] = rel;
  if (resmlp) result.summary["fusion_layernorm"] = spec.fuse.layernorm;
  result.summary["fused_from"] = {spec.fuse.a, spec.fuse.b};
  result.summary["narrow_parameters"] = NarrowParameters(a);
  std::ofstream(std::filesystem::path(options.out_dir) / "summary.json")
      << result.summary.dump(2) << "\n";
  return result;
}

}  // namespace ladle
