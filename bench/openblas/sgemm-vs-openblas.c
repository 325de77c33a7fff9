// The sentence encoder's f32 GEMMs vs OpenBLAS cblas_sgemm on the MiniLM-L6 encoder's matmul shapes: per layer
// Q, K, V, output (384 x 384), FFN up (1536 x 384) and down (384 x 1536), times 6 layers, for a batch of S
// sentences of L tokens packed without padding (m = S * L rows). All compute C[m, n] = A[m, k] . B[n, k]^T + bias:
//   old    ck_sgemm_nt (dot-product tiles over the unpacked weights; still used for attention's Q.K^T and P.V)
//   packed ck_sgemm_packed (weights packed once into 32-column k-major panels; outer-product microkernel)
//   blas   OpenBLAS cblas_sgemm
// Threads: ours split output columns with a persistent worker thread as the encoder's ThreadPool does (packed:
// whole panels); OpenBLAS with openblas_set_num_threads. Each cell: REPS rounds, the three methods interleaved in
// every round (100 ms apart, each timed after one untimed pass); prints median and min..max. Accuracy: max
// relative difference of each method against a double-precision reference on the 384 x 1536 (k = 1536) product,
// relative to sum |terms|. Batch invariance: every row of the packed m-row product must be bit-identical to the
// same row computed alone (m = 1), checked on every shape.
// Build and run: bench/openblas/run.
#include "ckernels.h"
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void openblas_set_num_threads(int);

enum { OLD, PACKED, BLAS, METHODS, REPS = 9, NSHAPES = 6 };
static const int shapes[NSHAPES][2] = { { 384, 384 }, { 384, 384 }, { 384, 384 }, { 384, 384 }, { 1536, 384 }, { 384, 1536 } };
static int level;

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

typedef struct { int method, m, n0, n1, n, k; const float *a, *b, *bias; float *c; } job_t;

static void *part(void *p) {
    const job_t *j = p;
    if (j->n1 <= j->n0) return NULL;
    if (j->method == OLD)
        ck_sgemm_nt(j->m, j->n1 - j->n0, j->k, j->a, j->k, j->b + (size_t)j->n0 * j->k, j->k, j->c + j->n0, j->n,
                    j->bias + j->n0);
    else
        ck_sgemm_packed(level, j->m, j->n1 - j->n0, j->k, j->a, j->k, j->b + (size_t)j->n0 * j->k, j->c + j->n0, j->n,
                        j->bias + j->n0);
    return NULL;
}

// A persistent second thread, as the encoder's ThreadPool has: it spins on a generation counter for a while
// (20000 polls, ThreadPool.spinLimit), then sleeps on a condition variable, so it neither costs a thread start per
// call nor burns the second core while OpenBLAS runs.
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static job_t worker_job;
static unsigned long generation, finished;

static void *worker(void *unused) {
    (void)unused;
    unsigned long seen = 0;
    for (;;) {
        int spins = 0;
        while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen) {
            if (++spins < 20000) { __builtin_ia32_pause(); continue; }
            pthread_mutex_lock(&mu);
            while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen) pthread_cond_wait(&cv, &mu);
            pthread_mutex_unlock(&mu);
        }
        seen = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        part(&worker_job);
        __atomic_store_n(&finished, seen, __ATOMIC_RELEASE);
    }
    return NULL;
}

// Column split as BertEncoder.linear does it (ThreadPool.parallelFor over n with a granularity), on 1 or 2 threads.
static void ck_gemm_threads(int method, int threads, int m, int n, int k, const float *a, const float *b,
                            const float *bias, float *c) {
    const int g = method == PACKED ? CK_SGEMM_NR : 16, units = (n + g - 1) / g;
    job_t jobs[2];
    for (int i = 0; i < threads; i++) {
        int lo = units * i / threads * g, hi = units * (i + 1) / threads * g;
        if (hi > n) hi = n;
        jobs[i] = (job_t){ method, m, lo, hi, n, k, a, b, bias, c };
    }
    if (threads == 2) {
        worker_job = jobs[1];
        pthread_mutex_lock(&mu);
        const unsigned long g1 = __atomic_add_fetch(&generation, 1, __ATOMIC_RELEASE);
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
        part(&jobs[0]);
        while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) != g1) __builtin_ia32_pause();
    } else {
        part(&jobs[0]);
    }
}

static void blas_gemm(int m, int n, int k, const float *a, const float *b, const float *bias, float *c) {
    for (int i = 0; i < m; i++) memcpy(c + (size_t)i * n, bias, sizeof(float) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 1.0f, c, n);
}

static int cmp(const void *x, const void *y) { const double a = *(const double *)x, b = *(const double *)y; return (a > b) - (a < b); }

// The layout of ckernels.h / PackedLinear: panels of 32 columns, k-major inside a panel, zero-padded.
static long packed_size(int n, int k) { return (long)((n + CK_SGEMM_NR - 1) / CK_SGEMM_NR) * CK_SGEMM_NR * k; }
static void pack_b(int n, int k, const float *b, float *packed) {
    for (long i = 0; i < packed_size(n, k); i++) packed[i] = 0;
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++) packed[(long)(j / CK_SGEMM_NR) * CK_SGEMM_NR * k + (long)p * CK_SGEMM_NR + j % CK_SGEMM_NR] = b[(long)j * k + p];
}

static float *alloc_floats(size_t n) { return aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64); }

int main(int argc, char **argv) {
    const int L = argc > 1 ? atoi(argv[1]) : 24;  // tokens per sentence
    const int batches[3] = { 1, 8, 32 };
    level = ck_has_avx512f() ? 2 : 1;
    pthread_t helper;
    pthread_create(&helper, NULL, worker, NULL);
    if (argc > 2) level = atoi(argv[2]);
    if (L < 1 || L > 512 || !((level == 2 && ck_has_avx512f()) || (level == 1 && ck_has_avx2()))) {
        fprintf(stderr, "usage: sgemm [TOKENS_PER_SENTENCE (1..512) [LEVEL (2: AVX-512F, 1: AVX2; this CPU: %s)]]\n",
                ck_has_avx512f() ? "2 or 1" : ck_has_avx2() ? "1" : "none");
        return 2;
    }
    srand(1);
    float *w[NSHAPES], *packed[NSHAPES], *bias[NSHAPES];
    for (int s = 0; s < NSHAPES; s++) {
        w[s] = alloc_floats((size_t)shapes[s][0] * shapes[s][1]);
        bias[s] = alloc_floats(shapes[s][0]);
        packed[s] = alloc_floats(packed_size(shapes[s][0], shapes[s][1]));
        for (int i = 0; i < shapes[s][0] * shapes[s][1]; i++) w[s][i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (int i = 0; i < shapes[s][0]; i++) bias[s][i] = rand() / (float)RAND_MAX - 0.5f;
    }
    // Packing cost, paid once per model load: the 36 weight matrices of 6 layers (each shape packed 6 times).
    double tp = now();
    for (int layer = 0; layer < 6; layer++)
        for (int s = 0; s < NSHAPES; s++) pack_b(shapes[s][0], shapes[s][1], w[s], packed[s]);
    tp = now() - tp;
    long packedFloats = 0;
    for (int s = 0; s < NSHAPES; s++) packedFloats += 6 * packed_size(shapes[s][0], shapes[s][1]);
    printf("packing the 36 matrices of 6 layers: %.1f ms, %.1f MB (level %d kernel: %s)\n\n", tp * 1e3,
           packedFloats * 4 / 1e6, level, level == 2 ? "AVX-512F" : "AVX2");
    printf("| sentences (x %d tokens) | threads | old ck_sgemm_nt ms | packed ms | OpenBLAS ms | old / packed | "
           "OpenBLAS / packed | max rel err old, packed, OpenBLAS | packed batch == single |\n", L);
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int bi = 0; bi < 3; bi++) {
        const int m = batches[bi] * L;
        float *a = alloc_floats((size_t)m * 1536), *c[METHODS], *one = alloc_floats(1536);
        for (int i = 0; i < METHODS; i++) c[i] = alloc_floats((size_t)m * 1536);
        for (int i = 0; i < m * 1536; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
        // Batch invariance of the packed kernel: row i of the m-row product == row i alone, bit for bit.
        int invariant = 1;
        for (int s = 0; s < NSHAPES; s++) {
            const int n = shapes[s][0], k = shapes[s][1];
            ck_sgemm_packed(level, m, n, k, a, k, packed[s], c[PACKED], n, bias[s]);
            for (int i = 0; i < m; i += (m > 64 ? 7 : 1)) {
                ck_sgemm_packed(level, 1, n, k, a + (size_t)i * k, k, packed[s], one, n, bias[s]);
                if (memcmp(one, c[PACKED] + (size_t)i * n, sizeof(float) * n) != 0) invariant = 0;
            }
        }
        for (int threads = 1; threads <= 2; threads++) {
            openblas_set_num_threads(threads);
            double t[METHODS][REPS];
            for (int rep = 0; rep < REPS; rep++) {
                for (int which = 0; which < METHODS; which++) {
                    // Let the previous method's threads go idle first (OpenBLAS's workers spin for a while after
                    // a call, ours for 20000 polls), then one untimed pass wakes this method's threads and the
                    // core up, so no method runs against another's spinning threads or from an idle core.
                    nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
                    double t0 = 0;
                    for (int pass = 0; pass < 2; pass++) {
                        t0 = now();
                        for (int layer = 0; layer < 6; layer++)
                            for (int s = 0; s < NSHAPES; s++) {
                                const int n = shapes[s][0], k = shapes[s][1];
                                if (which == BLAS) blas_gemm(m, n, k, a, w[s], bias[s], c[BLAS]);
                                else ck_gemm_threads(which, threads, m, n, k, a, which == OLD ? w[s] : packed[s],
                                                     bias[s], c[which]);
                            }
                    }
                    t[which][rep] = now() - t0;
                }
            }
            // The last shape (384 x 1536, k = 1536) against a double-precision reference.
            double maxrel[METHODS] = { 0 };
            const int n = shapes[NSHAPES - 1][0], k = shapes[NSHAPES - 1][1];
            for (int i = 0; i < m; i += (m > 64 ? 5 : 1))
                for (int j = 0; j < n; j++) {
                    double ref = bias[NSHAPES - 1][j], mag = fabs(ref);
                    for (int p = 0; p < k; p++) {
                        const double x = (double)a[(size_t)i * k + p] * w[NSHAPES - 1][(size_t)j * k + p];
                        ref += x;
                        mag += fabs(x);
                    }
                    for (int q = 0; q < METHODS; q++) {
                        const double d = fabs(c[q][(size_t)i * n + j] - ref) / mag;
                        if (d > maxrel[q]) maxrel[q] = d;
                    }
                }
            double med[METHODS], lo[METHODS], hi[METHODS];
            for (int q = 0; q < METHODS; q++) {
                qsort(t[q], REPS, sizeof(double), cmp);
                med[q] = t[q][REPS / 2] * 1e3; lo[q] = t[q][0] * 1e3; hi[q] = t[q][REPS - 1] * 1e3;
            }
            printf("| %d | %d | %.2f (%.2f..%.2f) | %.2f (%.2f..%.2f) | %.2f (%.2f..%.2f) | %.2fx | %.2fx | %.1e, %.1e, %.1e | %s |\n",
                   batches[bi], threads, med[OLD], lo[OLD], hi[OLD], med[PACKED], lo[PACKED], hi[PACKED], med[BLAS],
                   lo[BLAS], hi[BLAS], med[OLD] / med[PACKED], med[BLAS] / med[PACKED], maxrel[OLD], maxrel[PACKED],
                   maxrel[BLAS], invariant ? "yes" : "NO");
            fflush(stdout);
        }
        free(a); free(one);
        for (int i = 0; i < METHODS; i++) free(c[i]);
    }
    return 0;
}
