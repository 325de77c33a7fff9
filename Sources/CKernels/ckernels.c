#include "ckernels.h"

int ck_has_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int ck_has_avx512vnni(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return ck_has_avx2() && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bw");
#else
    return 0;
#endif
}

int ck_has_avx512f(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return ck_has_avx2() && __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}
