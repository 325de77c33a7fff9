// ck_sgemm_nt (the sentence encoder's hand-written f32 GEMM) vs OpenBLAS cblas_sgemm on the MiniLM-L6
// encoder's matmul shapes: per layer Q, K, V, output (384 x 384), FFN up (1536 x 384) and down (384 x 1536),
// times 6 layers, for a batch of S sentences of L tokens packed without padding (m = S * L rows).
// Both compute C[m, n] = A[m, k] . B[n, k]^T + bias. Threads: ck_sgemm_nt split over weight rows (n) on
// pthreads as the encoder's ThreadPool does; OpenBLAS with openblas_set_num_threads.
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

static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + ts.tv_nsec * 1e-9; }

typedef struct { int m, n0, n1, k; const float *a, *b, *bias; float *c; } job_t;

static void *ck_part(void *p) {
    job_t *j = p;
    ck_sgemm_nt(j->m, j->n1 - j->n0, j->k, j->a, j->k, j->b + (size_t)j->n0 * j->k, j->k, j->c + j->n0, 0, j->bias + j->n0);
    return NULL;
}

// ldc is n for the whole matrix; ck_part gets c offset by n0 and needs ldc = n: pass through a wrapper.
static int g_n;
static void *ck_part_ld(void *p) {
    job_t *j = p;
    ck_sgemm_nt(j->m, j->n1 - j->n0, j->k, j->a, j->k, j->b + (size_t)j->n0 * j->k, j->k, j->c + j->n0, g_n, j->bias + j->n0);
    return NULL;
}

static void ck_gemm_threads(int threads, int m, int n, int k, const float *a, const float *b, const float *bias, float *c) {
    g_n = n;
    pthread_t th[8];
    job_t jobs[8];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job_t){ m, n * i / threads, n * (i + 1) / threads, k, a, b, bias, c };
        if (i > 0) pthread_create(&th[i], NULL, ck_part_ld, &jobs[i]);
    }
    ck_part_ld(&jobs[0]);
    for (int i = 1; i < threads; i++) pthread_join(th[i], NULL);
}

static void blas_gemm(int m, int n, int k, const float *a, const float *b, const float *bias, float *c) {
    for (int i = 0; i < m; i++) memcpy(c + (size_t)i * n, bias, sizeof(float) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, k, b, k, 1.0f, c, n);
}

int main(int argc, char **argv) {
    const int L = argc > 1 ? atoi(argv[1]) : 24;  // tokens per sentence
    const int shapes[6][2] = { { 384, 384 }, { 384, 384 }, { 384, 384 }, { 384, 384 }, { 1536, 384 }, { 384, 1536 } };
    const int batches[3] = { 1, 8, 32 };
    (void)ck_part;
    srand(1);
    float *w[6], *bias[6];
    for (int s = 0; s < 6; s++) {
        w[s] = malloc(sizeof(float) * shapes[s][0] * shapes[s][1]);
        bias[s] = malloc(sizeof(float) * shapes[s][0]);
        for (int i = 0; i < shapes[s][0] * shapes[s][1]; i++) w[s][i] = (rand() / (float)RAND_MAX - 0.5f) * 0.1f;
        for (int i = 0; i < shapes[s][0]; i++) bias[s][i] = rand() / (float)RAND_MAX - 0.5f;
    }
    printf("| sentences (x %d tokens) | threads | ck_sgemm_nt ms | OpenBLAS ms | OpenBLAS / ck speedup | max rel diff |\n", L);
    printf("|---|---|---|---|---|---|\n");
    for (int bi = 0; bi < 3; bi++) {
        const int m = batches[bi] * L;
        float *a = malloc(sizeof(float) * m * 1536), *c1 = malloc(sizeof(float) * m * 1536), *c2 = malloc(sizeof(float) * m * 1536);
        for (int i = 0; i < m * 1536; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
        for (int threads = 1; threads <= 2; threads++) {
            openblas_set_num_threads(threads);
            double best[2] = { 1e9, 1e9 }, maxrel = 0;
            for (int rep = 0; rep < 7; rep++) {
                for (int which = 0; which < 2; which++) {
                    const double t0 = now();
                    for (int layer = 0; layer < 6; layer++)
                        for (int s = 0; s < 6; s++) {
                            const int n = shapes[s][0], k = shapes[s][1];
                            if (which == 0) ck_gemm_threads(threads, m, n, k, a, w[s], bias[s], c1);
                            else blas_gemm(m, n, k, a, w[s], bias[s], c2);
                        }
                    const double dt = now() - t0;
                    if (dt < best[which]) best[which] = dt;
                }
            }
            // Compare the last shape's results (same inputs).
            for (int i = 0; i < m * 384; i++) {
                const double d = fabs((double)c1[i] - c2[i]) / (fabs(c1[i]) + 1e-3);
                if (d > maxrel) maxrel = d;
            }
            printf("| %d | %d | %.3f | %.3f | %.2fx | %.1e |\n", batches[bi], threads, best[0] * 1e3, best[1] * 1e3,
                   best[0] / best[1], maxrel);
        }
        free(a); free(c1); free(c2);
    }
    return 0;
}
