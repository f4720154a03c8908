#include "kernels/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include "absl/strings/str_cat.h"
#include "oneapi/dnnl/dnnl.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace ladle {

CpuGemmLibrary DefaultCpuGemmLibrary() {
#ifdef LADLE_CPU_GEMM_OPENBLAS
  return CpuGemmLibrary::kOpenBlas;
#else
  return CpuGemmLibrary::kOneDnn;
#endif
}

absl::StatusOr<CpuGemmLibrary> ParseCpuGemmLibrary(absl::string_view name) {
  if (name == "onednn") return CpuGemmLibrary::kOneDnn;
  if (name == "openblas") return CpuGemmLibrary::kOpenBlas;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown CPU GEMM library '", name, "'; use onednn or openblas"));
}

std::string CpuGemmLibraryName(CpuGemmLibrary lib) {
  return lib == CpuGemmLibrary::kOneDnn ? "onednn" : "openblas";
}

void SetCpuThreads(int threads) {
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

absl::Status CpuSgemm(CpuGemmLibrary lib, bool trans_a, bool trans_b, int64_t m,
                      int64_t n, int64_t k, float alpha, const float* a,
                      const float* b, float beta, float* c) {
  if (m < 0 || n < 0 || k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("gemm: negative shape m=", m, " n=", n, " k=", k));
  }
  if (m == 0 || n == 0) return absl::OkStatus();
  const int64_t lda = trans_a ? m : k;
  const int64_t ldb = trans_b ? k : n;
  if (lib == CpuGemmLibrary::kOneDnn) {
    const dnnl_status_t st =
        dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                   lda, b, ldb, beta, c, n);
    if (st != dnnl_success) {
      return absl::InternalError(absl::StrCat(
          __FILE__, ":", __LINE__, ": dnnl_sgemm failed with status ", st));
    }
    return absl::OkStatus();
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
              ldb, beta, c, n);
  return absl::OkStatus();
}

}  // namespace ladle
