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
//
// ResMLPs (width d → 2d): embed stacked, residual blocks block-diagonal, head
// ½[W_a W_b]. A LayerNorm over the full 2d width mixes the halves' statistics
// and breaks exactness; with `grouped` LayerNorm the wide model normalises
// each half on its own (model.ln_groups: 2) and the narrow models' LN affines
// are folded into the following linear layer (W·diag(γ), b + W·β), leaving
// the wide LNs at γ = 1, β = 0: exact. `full` keeps one LN over the full
// width with γ, β concatenated: the paper's inexact variant, for comparison.
#ifndef LADLE_TRAIN_FUSION_H_
#define LADLE_TRAIN_FUSION_H_

#include "absl/status/statusor.h"
#include "kernels/models.h"
#include "kernels/safetensors.h"
#include "spec/train_spec.h"
#include "spec/widen.h"
#include "train/trainer.h"

namespace ladle {

// Fuses the parameter tensors (named as CreateDenseModel names them) of two
// MLPs of config `narrow`. INVALID_ARGUMENT names a missing or misshapen
// tensor. The result holds parameters only (no metadata).
absl::StatusOr<SafeTensorsFile> FuseMlp(const SafeTensorsFile& a,
                                        const SafeTensorsFile& b,
                                        const ModelConfig& narrow);
// The same for ResMLPs (narrow ln_groups must be 1).
absl::StatusOr<SafeTensorsFile> FuseResMlp(const SafeTensorsFile& a,
                                           const SafeTensorsFile& b,
                                           const ModelConfig& narrow,
                                           FusionLayerNorm ln);

// ladle-train's `task: fuse`: reads spec.fuse.a and .b, writes the fused
// model to out_dir/model.safetensors (a ladle checkpoint of the widened
// model, step 0), checks on random inputs that its logits are the mean of the
// narrow ones, evaluates it like a trial (val/test accuracy), and writes
// summary.json with `fusion_max_rel_error` added.
absl::StatusOr<TrainResult> RunFuse(const TrainSpec& spec,
                                    const TrainOptions& options);

}  // namespace ladle

#endif  // LADLE_TRAIN_FUSION_H_
