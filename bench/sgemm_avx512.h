// A GEMM variant for bench/gemm_bench: ladle's own fp32 GEMM for x86 CPUs
// with AVX-512 (BLIS's structure: packed panels, a 12x32 register tile, the
// operand both threads need packed once for the team).
//
// Written to see whether the training step's GEMMs could beat oneDNN's
// dnnl_sgemm on this VM; they do not (docs/PERFORMANCE.md, session 8: the
// register tile runs at 95% of the FMA peak on 2 threads, the whole GEMM at
// 0.93-0.98x oneDNN on the step's shapes), so the library keeps oneDNN and this
// stays a bench variant, the starting point for a fused kernel later.
//
// Contract: row-major, Backend::Gemm's conventions, leading dimensions given.
// Call only when Avx512SgemmAvailable(); the file is compiled for AVX-512 by a
// target pragma, so binaries still start where AVX-512 is absent. Threads:
// OpenMP's max_threads, each writing a disjoint block of C; every C element is
// summed in the same order whatever the thread count. Thread-safe: packing
// buffers are per thread, grown on first use and kept. beta == 0 never reads
// C.
#ifndef LADLE_BENCH_SGEMM_AVX512_H_
#define LADLE_BENCH_SGEMM_AVX512_H_

#include <cstdint>

namespace ladle {

// True when the CPU and OS support the AVX-512 F/VL/BW/DQ instructions used.
bool Avx512SgemmAvailable();

// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C.
// Requires m, n, k >= 0 and lda/ldb/ldc >= the row lengths.
void Avx512Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace ladle

#endif  // LADLE_BENCH_SGEMM_AVX512_H_
