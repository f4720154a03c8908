// Deep Fusion (Mazzawi et al. 2023, arXiv 2306.11903): a model of twice the
// width initialised from two trained narrow ones so that, before any further
// training, it computes exactly the average of their logits.
//
// For MLPs with hidden widths h_1..h_k (both narrow models alike):
//   first layer   W = [W_a; W_b] (outputs stacked), b = [b_a; b_b]
//   hidden layers W = [[W_a, 0], [0, W_b]] (block diagonal), b = [b_a; b_b]
//   output layer  W = ½ [W_a, W_b], b = ½ (b_a + b_b)
// Elementwise activations (and dropout, at training time) keep the halves
// apart, so logits_fused = ½ (logits_a + logits_b).
#ifndef LADLE_TRAIN_FUSION_H_
#define LADLE_TRAIN_FUSION_H_

#include "absl/status/statusor.h"
#include "kernels/models.h"
#include "kernels/safetensors.h"
#include "train/spec.h"
#include "train/trainer.h"

namespace ladle {

// `narrow` with every hidden width doubled.
ModelConfig WidenedConfig(const ModelConfig& narrow);

// Fuses the parameter tensors (named as CreateDenseModel names them) of two
// MLPs of config `narrow`. INVALID_ARGUMENT names a missing or misshapen
// tensor. The result holds parameters only (no metadata).
absl::StatusOr<SafeTensorsFile> FuseMlp(const SafeTensorsFile& a,
                                        const SafeTensorsFile& b,
                                        const ModelConfig& narrow);

// ladle-train's `task: fuse`: reads spec.fuse.a and .b, writes the fused
// model to out_dir/model.safetensors (a ladle checkpoint of the widened
// model, step 0), checks on random inputs that its logits are the mean of the
// narrow ones, evaluates it like a trial (val/test accuracy), and writes
// summary.json with `fusion_max_rel_error` added.
absl::StatusOr<TrainResult> RunFuse(const TrainSpec& spec,
                                    const TrainOptions& options);

}  // namespace ladle

#endif  // LADLE_TRAIN_FUSION_H_
