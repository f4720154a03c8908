#include "bench/sgemm_avx512.h"

#include <immintrin.h>
#include <omp.h>

#include <cstdlib>

// Everything below is compiled for AVX-512; the entry point is only called
// after Avx512SgemmAvailable(). No header is included after this point, so no
// inline function shared with other files is emitted with AVX-512 code.
#pragma GCC push_options
// GCC 12 reports its own avx512fintrin.h helpers (the _mm512_undefined_ps
// they start from) as maybe-uninitialized; a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,fma")

namespace ladle {
namespace {

// Register tile: kMr rows of C (A values broadcast) x kNr columns (two zmm of
// B). 24 accumulators + 2 B vectors leave room in the 32 zmm registers.
constexpr int kMr = 12;
constexpr int kNr = 32;
// Cache blocking: the k loop runs whole (up to kKcMax) so C is read and
// written once; a kKcMax x kNr micro-panel of B (128 KiB) streams from L2 and
// is reused across the kMc / kMr micro-panels of A. kKcMax 192 (B micro-panel
// in L1, as BLIS sizes it) measured 0.90x oneDNN here, 1024 0.95-0.98x.
constexpr int64_t kKcMax = 1024;
constexpr int64_t kMcMax = 120;   // multiple of kMr
constexpr int64_t kNcMax = 1024;  // multiple of kNr
// Below this many multiply-adds one thread is faster than waking others.
constexpr int64_t kParallelMacs = int64_t{1} << 20;

inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t RoundUp(int64_t a, int64_t b) { return CeilDiv(a, b) * b; }
// Block length for splitting `total` into near-equal blocks of at most `max`,
// rounded up to a multiple of `unit`.
inline int64_t BlockLength(int64_t total, int64_t max, int64_t unit) {
  const int64_t blocks = CeilDiv(total, max);
  return RoundUp(CeilDiv(total, blocks), unit);
}
inline __mmask16 LowMask(int64_t n) {
  return n >= 16  ? __mmask16(0xFFFF)
         : n <= 0 ? __mmask16(0)
                  : __mmask16((1u << n) - 1);
}

struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
};

// Per-thread packing buffers, grown on demand and kept for the thread's life.
struct PackBuffers {
  float* a = nullptr;
  float* b = nullptr;
  int64_t a_floats = 0, b_floats = 0;
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
  static float* Grow(float* p, int64_t* have, int64_t need) {
    if (*have >= need) return p;
    std::free(p);
    // 64-byte aligned for the kernel's aligned loads; +16 floats of slack for
    // the full-width stores of the last packed row.
    const size_t bytes = static_cast<size_t>(RoundUp(need + 16, 16)) * 4;
    *have = need;
    float* grown = static_cast<float*>(std::aligned_alloc(64, bytes));
    if (grown == nullptr) std::abort();  // a bench: no way to report it
    return grown;
  }
};
thread_local PackBuffers tls_buffers;
thread_local PackBuffers tls_shared_buffers;

// In-register transpose of a 16x16 block: r[i] lane j -> r[j] lane i.
inline void Transpose16(__m512 r[16]) {
  __m512 u[4][4];
  for (int g = 0; g < 4; ++g) {
    const __m512 t0 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
    const __m512 t1 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
    const __m512 t2 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
    const __m512 t3 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
    u[g][0] = _mm512_castpd_ps(
        _mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    u[g][1] = _mm512_castpd_ps(
        _mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
    u[g][2] = _mm512_castpd_ps(
        _mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    u[g][3] = _mm512_castpd_ps(
        _mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
  }
  // u[g][c] lane L holds column 4L + c of rows 4g..4g+3: a 4x4 transpose of
  // 128-bit lanes finishes it.
  for (int c = 0; c < 4; ++c) {
    const __m512 x0 = _mm512_shuffle_f32x4(u[0][c], u[1][c], 0x44);
    const __m512 x1 = _mm512_shuffle_f32x4(u[0][c], u[1][c], 0xEE);
    const __m512 x2 = _mm512_shuffle_f32x4(u[2][c], u[3][c], 0x44);
    const __m512 x3 = _mm512_shuffle_f32x4(u[2][c], u[3][c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(x0, x2, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(x0, x2, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(x1, x3, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(x1, x3, 0xDD);
  }
}

// Packs op(A)[i0 : i0+rows, p0 : p0+kc] as micro-panels of kMr rows, each
// stored k-major ([kc][kMr]); rows past the end are zero.
void PackA(const Problem& pr, int64_t i0, int64_t rows, int64_t p0, int64_t kc,
           float* dst) {
  constexpr __mmask16 kStoreMask = (1u << kMr) - 1;
  for (int64_t ir = 0; ir < rows; ir += kMr, dst += kMr * kc) {
    const int64_t valid = Min(kMr, rows - ir);
    if (pr.trans_a) {  // A(i, p) = a[p * lda + i]: rows are contiguous.
      const __mmask16 row_mask = LowMask(valid);
      const float* src = pr.a + p0 * pr.lda + i0 + ir;
      for (int64_t p = 0; p < kc; ++p) {
        _mm512_mask_storeu_ps(dst + p * kMr, kStoreMask,
                              _mm512_maskz_loadu_ps(row_mask, src));
        src += pr.lda;
      }
      continue;
    }
    // A(i, p) = a[i * lda + p]: transpose 16 k values of each row at a time.
    const float* src = pr.a + (i0 + ir) * pr.lda + p0;
    for (int64_t q0 = 0; q0 < kc; q0 += 16) {
      const int64_t kq = Min(16, kc - q0);
      const __mmask16 k_mask = LowMask(kq);
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] = i < valid ? _mm512_maskz_loadu_ps(k_mask, src + i * pr.lda + q0)
                         : _mm512_setzero_ps();
      }
      Transpose16(r);
      for (int q = 0; q < kq; ++q)
        _mm512_mask_storeu_ps(dst + (q0 + q) * kMr, kStoreMask, r[q]);
    }
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+cols] as micro-panels of kNr columns, each
// stored k-major ([kc][kNr]); columns past the end are zero.
void PackB(const Problem& pr, int64_t p0, int64_t kc, int64_t j0, int64_t cols,
           float* dst) {
  for (int64_t jr = 0; jr < cols; jr += kNr, dst += kNr * kc) {
    const int64_t valid = Min(kNr, cols - jr);
    if (!pr.trans_b) {  // B(p, j) = b[p * ldb + j]: columns are contiguous.
      const __mmask16 m0 = LowMask(valid), m1 = LowMask(valid - 16);
      const float* src = pr.b + p0 * pr.ldb + j0 + jr;
      for (int64_t p = 0; p < kc; ++p) {
        _mm512_store_ps(dst + p * kNr, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(dst + p * kNr + 16,
                        _mm512_maskz_loadu_ps(m1, src + 16));
        src += pr.ldb;
      }
      continue;
    }
    // B(p, j) = b[j * ldb + p]: transpose 16 columns x 16 k at a time.
    for (int half = 0; half < 2; ++half) {
      const int64_t cols_here = Min(16, valid - 16 * half);
      const float* src = pr.b + (j0 + jr + 16 * half) * pr.ldb + p0;
      for (int64_t q0 = 0; q0 < kc; q0 += 16) {
        const int64_t kq = Min(16, kc - q0);
        const __mmask16 k_mask = LowMask(kq);
        __m512 r[16];
        for (int j = 0; j < 16; ++j) {
          r[j] = j < cols_here
                     ? _mm512_maskz_loadu_ps(k_mask, src + j * pr.ldb + q0)
                     : _mm512_setzero_ps();
        }
        Transpose16(r);
        for (int q = 0; q < kq; ++q)
          _mm512_store_ps(dst + (q0 + q) * kNr + 16 * half, r[q]);
      }
    }
  }
}

// C[rows, cols] (rows <= kMr, cols <= kNr) = alpha * Ap Bp + beta * C over kc
// packed k steps.
inline void MicroKernel(int64_t kc, const float* ap, const float* bp, float* c,
                        int64_t ldc, int64_t rows, int64_t cols, float alpha,
                        float beta) {
  __m512 acc0[kMr], acc1[kMr];
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) {
    acc0[i] = _mm512_setzero_ps();
    acc1[i] = _mm512_setzero_ps();
  }
  // C arrives while the k loop runs.
  for (int i = 0; i < rows; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp);
    const __m512 b1 = _mm512_load_ps(bp + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      const __m512 av = _mm512_set1_ps(ap[i]);
      acc0[i] = _mm512_fmadd_ps(av, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(av, b1, acc1[i]);
    }
    ap += kMr;
    bp += kNr;
  }
  const __mmask16 m0 = LowMask(cols), m1 = LowMask(cols - 16);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) {
    if (i >= rows) break;
    float* cr = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(acc0[i], va), r1 = _mm512_mul_ps(acc1[i], va);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), r1);
    }
    _mm512_mask_storeu_ps(cr, m0, r0);
    _mm512_mask_storeu_ps(cr + 16, m1, r1);
  }
}

// The team of `threads` splits C into contiguous runs of whole register
// tiles along one dimension: columns or rows, `per` each. The operand every
// thread needs whole (A when columns are split, B when rows are) is packed
// once: each thread packs every threads-th micro-panel into one of two shared
// buffers, then a barrier. The other operand is packed privately. Every loop
// trip count is the same on all threads, so the barriers pair up; with two
// buffers a buffer is refilled only after the barrier that follows the block
// that read it, so one barrier per block suffices.
struct Split {
  bool columns;
  int64_t per;  // columns or rows per thread, a multiple of the tile
};

void RunShareA(const Problem& pr, int t, int threads, int64_t per,
               float* const shared[2]) {
  const int64_t n0 = Min(pr.n, t * per), n1 = Min(pr.n, n0 + per);
  const int64_t kc_len = BlockLength(pr.k, kKcMax, 1);
  const int64_t mc_len = BlockLength(pr.m, kMcMax, kMr);
  const int64_t nc_len = BlockLength(per, kNcMax, kNr);
  PackBuffers& own = tls_buffers;
  own.b = PackBuffers::Grow(own.b, &own.b_floats, nc_len * kc_len);
  int stage = 0;
  for (int64_t jb = 0; jb < CeilDiv(per, nc_len); ++jb) {
    const int64_t jc = n0 + jb * nc_len;
    const int64_t nc = Min(nc_len, n1 - jc);  // <= 0 on an idle thread
    for (int64_t pc = 0; pc < pr.k; pc += kc_len) {
      const int64_t kc = Min(kc_len, pr.k - pc);
      if (nc > 0) PackB(pr, pc, kc, jc, nc, own.b);
      const float beta = pc == 0 ? pr.beta : 1.0f;  // later k blocks add
      for (int64_t ic = 0; ic < pr.m; ic += mc_len) {
        const int64_t mc = Min(mc_len, pr.m - ic);
        float* ap = shared[stage];
        stage ^= 1;
        for (int64_t r = t; r * kMr < mc; r += threads) {
          PackA(pr, ic + r * kMr, Min(kMr, mc - r * kMr), pc, kc,
                ap + r * kMr * kc);
        }
#pragma omp barrier
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            MicroKernel(kc, ap + ir * kc, own.b + jr * kc,
                        pr.c + (ic + ir) * pr.ldc + jc + jr, pr.ldc,
                        Min(kMr, mc - ir), Min(kNr, nc - jr), pr.alpha, beta);
          }
        }
      }
    }
  }
}

void RunShareB(const Problem& pr, int t, int threads, int64_t per,
               float* const shared[2]) {
  const int64_t m0 = Min(pr.m, t * per), m1 = Min(pr.m, m0 + per);
  const int64_t kc_len = BlockLength(pr.k, kKcMax, 1);
  const int64_t mc_len = BlockLength(per, kMcMax, kMr);
  const int64_t nc_len = BlockLength(pr.n, kNcMax, kNr);
  PackBuffers& own = tls_buffers;
  own.a = PackBuffers::Grow(own.a, &own.a_floats, mc_len * kc_len);
  int stage = 0;
  for (int64_t jc = 0; jc < pr.n; jc += nc_len) {
    const int64_t nc = Min(nc_len, pr.n - jc);
    for (int64_t pc = 0; pc < pr.k; pc += kc_len) {
      const int64_t kc = Min(kc_len, pr.k - pc);
      float* bp = shared[stage];
      stage ^= 1;
      for (int64_t r = t; r * kNr < nc; r += threads) {
        PackB(pr, pc, kc, jc + r * kNr, Min(kNr, nc - r * kNr),
              bp + r * kNr * kc);
      }
#pragma omp barrier
      const float beta = pc == 0 ? pr.beta : 1.0f;
      for (int64_t ic = m0; ic < m1; ic += mc_len) {
        const int64_t mc = Min(mc_len, m1 - ic);
        PackA(pr, ic, mc, pc, kc, own.a);
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            MicroKernel(kc, own.a + ir * kc, bp + jr * kc,
                        pr.c + (ic + ir) * pr.ldc + jc + jr, pr.ldc,
                        Min(kMr, mc - ir), Min(kNr, nc - jr), pr.alpha, beta);
          }
        }
      }
    }
  }
}

// Splits along the dimension with less padding per thread (columns on a tie).
Split ChooseSplit(const Problem& pr, int threads) {
  const int64_t tiles_m = CeilDiv(pr.m, kMr), tiles_n = CeilDiv(pr.n, kNr);
  const int64_t work_split_n = CeilDiv(tiles_n, threads) * tiles_m;
  const int64_t work_split_m = CeilDiv(tiles_m, threads) * tiles_n;
  if (work_split_n <= work_split_m)
    return {true, CeilDiv(tiles_n, threads) * kNr};
  return {false, CeilDiv(tiles_m, threads) * kMr};
}

// Floats in each of the two shared buffers.
int64_t SharedFloats(const Problem& pr, const Split& split) {
  const int64_t kc_len = BlockLength(pr.k, kKcMax, 1);
  if (split.columns) return BlockLength(pr.m, kMcMax, kMr) * kc_len;
  return BlockLength(pr.n, kNcMax, kNr) * kc_len;
}

void RunThread(const Problem& pr, int t, int threads, const Split& split,
               float* const shared[2]) {
  if (split.columns) {
    RunShareA(pr, t, threads, split.per, shared);
  } else {
    RunShareB(pr, t, threads, split.per, shared);
  }
}

// k == 0: C = beta * C (beta == 0 writes zeros without reading C).
void ScaleC(const Problem& pr) {
  const __m512 vb = _mm512_set1_ps(pr.beta);
  for (int64_t i = 0; i < pr.m; ++i) {
    float* row = pr.c + i * pr.ldc;
    for (int64_t j = 0; j < pr.n; j += 16) {
      const __mmask16 mask = LowMask(pr.n - j);
      const __m512 v =
          pr.beta == 0.0f
              ? _mm512_setzero_ps()
              : _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask, row + j));
      _mm512_mask_storeu_ps(row + j, mask, v);
    }
  }
}

}  // namespace

void Avx512Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                 float alpha, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const Problem pr{trans_a, trans_b, m,   n,    k, alpha, a,
                   lda,     b,       ldb, beta, c, ldc};
  if (k <= 0 || alpha == 0.0f) {
    ScaleC(pr);
    return;
  }
  int threads = m * n * k < kParallelMacs ? 1 : omp_get_max_threads();
  if (threads < 1) threads = 1;
  const Split split = ChooseSplit(pr, threads);
  // The shared buffers belong to the calling thread: concurrent calls from
  // different threads use different ones.
  PackBuffers& shared_buf = tls_shared_buffers;
  const int64_t floats = SharedFloats(pr, split);
  shared_buf.a = PackBuffers::Grow(shared_buf.a, &shared_buf.a_floats, floats);
  shared_buf.b = PackBuffers::Grow(shared_buf.b, &shared_buf.b_floats, floats);
  float* const shared[2] = {shared_buf.a, shared_buf.b};
  if (threads == 1) {
    RunThread(pr, 0, 1, split, shared);
    return;
  }
#pragma omp parallel num_threads(threads)
  RunThread(pr, omp_get_thread_num(), omp_get_num_threads(), split, shared);
}

}  // namespace ladle

#pragma GCC diagnostic pop
#pragma GCC pop_options

namespace ladle {

bool Avx512SgemmAvailable() {
  static const bool available =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
  return available;
}

}  // namespace ladle
