/* v3check: a static x86-64-v3 program (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE) for the Linux
 * guest. Built with `gcc -O2 -march=x86-64-v3 -static`; run on the host and in the guest, the
 * two outputs must be identical (Tests/FrontendTests/GuestX8664V3Tests.swift).
 * Every line is "name: value" with values in hex (floats as %a), so any bit difference shows.
 * The intrinsics make sure each extension is really used; the plain loops are left to the
 * auto-vectoriser, and libm/libc pick their AVX2/FMA variants through the CPUID the guest sees. */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 4096

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ull; }
    return h;
}
#define HASH(x) fnv(0xcbf29ce484222325ull, (x), sizeof(x))

static float fa[N], fb[N], fc[N], fd[N];
static double da[N], db[N];
static int32_t ia[N], ib[N], ic[N];
static uint64_t qa[N];
static unsigned char bytes[1 << 16], bytes2[1 << 16];

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    for (int i = 0; i < N; i++) {
        fa[i] = (float)(int32_t)next() / 65536.0f;
        fb[i] = (float)(int32_t)next() / 1048576.0f;
        fc[i] = (float)(next() % 1000) / 7.0f - 70.0f;
        da[i] = (double)(int64_t)next() / 4294967296.0;
        db[i] = (double)(next() % 100000) / 3.0;
        ia[i] = (int32_t)next();
        ib[i] = (int32_t)(next() % 31);
        qa[i] = next();
    }
    for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)next();

    /* AVX2 integer: add, multiply, variable shifts, shuffles, permutes, blends, gathers. */
    __m256i acc = _mm256_setzero_si256();
    const __m256i idx = _mm256_setr_epi32(7, 0, 5, 2, 3, 6, 1, 4);
    const __m256i shuf = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                          0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int i = 0; i < N; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)&ia[i]);
        __m256i s = _mm256_loadu_si256((const __m256i *)&ib[i]);
        __m256i t = _mm256_add_epi32(_mm256_mullo_epi32(a, idx), _mm256_sllv_epi32(a, s));
        t = _mm256_xor_si256(t, _mm256_srav_epi32(a, s));
        t = _mm256_permutevar8x32_epi32(t, idx);
        t = _mm256_shuffle_epi8(t, shuf);
        t = _mm256_blend_epi32(t, _mm256_srlv_epi32(a, s), 0xA5);
        __m256i g = _mm256_i32gather_epi32(ia, _mm256_and_si256(a, _mm256_set1_epi32(N - 1)), 4);
        acc = _mm256_add_epi32(acc, _mm256_xor_si256(t, g));
        acc = _mm256_permute4x64_epi64(acc, 0x93);
        acc = _mm256_max_epi32(acc, _mm256_min_epi32(t, g));
        _mm256_storeu_si256((__m256i *)&ic[i], t);
    }
    int32_t accv[8];
    _mm256_storeu_si256((__m256i *)accv, acc);
    printf("avx2-int: %016llx %016llx\n", (unsigned long long)HASH(accv), (unsigned long long)HASH(ic));
    printf("avx2-movemask: %08x\n", (unsigned)_mm256_movemask_epi8(_mm256_cmpgt_epi32(acc, _mm256_setzero_si256())));

    /* FMA: packed single and double, all of 132/213/231 through the intrinsics' forms. */
    __m256 fs = _mm256_setzero_ps();
    __m256d ds = _mm256_setzero_pd();
    for (int i = 0; i < N; i += 8) {
        __m256 a = _mm256_loadu_ps(&fa[i]), b = _mm256_loadu_ps(&fb[i]), c = _mm256_loadu_ps(&fc[i]);
        __m256 r = _mm256_fmadd_ps(a, b, c);
        r = _mm256_fmsub_ps(r, c, a);
        r = _mm256_fnmadd_ps(b, r, fs);
        fs = _mm256_fmaddsub_ps(r, _mm256_set1_ps(0.5f), fs);
        _mm256_storeu_ps(&fd[i], r);
    }
    for (int i = 0; i < N; i += 4) {
        __m256d a = _mm256_loadu_pd(&da[i]), b = _mm256_loadu_pd(&db[i]);
        ds = _mm256_fnmsub_pd(a, b, _mm256_fmsubadd_pd(ds, _mm256_set1_pd(0.999), a));
    }
    float fsv[8]; double dsv[4];
    _mm256_storeu_ps(fsv, fs);
    _mm256_storeu_pd(dsv, ds);
    printf("fma-ps: %a %a %016llx\n", fsv[0], fsv[7], (unsigned long long)HASH(fd));
    printf("fma-pd: %a %a %a %a\n", dsv[0], dsv[1], dsv[2], dsv[3]);
    printf("fma-scalar: %a %a\n", fma(da[1], db[2], da[3]), (double)fmaf(fa[1], fb[2], fc[3]));

    /* Auto-vectorised loops. */
    for (int i = 0; i < N; i++) fd[i] = fa[i] * fb[i] + fc[i];
    double dot = 0;
    for (int i = 0; i < N; i++) dot += da[i] * db[i];
    int64_t isum = 0;
    for (int i = 0; i < N; i++) isum += (int64_t)ia[i] * ib[i];
    printf("vectorised: %016llx %a %llx\n", (unsigned long long)HASH(fd), dot, (unsigned long long)isum);

    /* BMI1, BMI2, LZCNT, POPCNT, MOVBE. */
    uint64_t b1 = 0, b2 = 0, b3 = 0;
    for (int i = 0; i < N; i++) {
        uint64_t x = qa[i], m = qa[(i + 1) % N];
        b1 += _pdep_u64(x, m) ^ _pext_u64(x, m) ^ _bzhi_u64(x, (unsigned)(m & 63));
        b1 ^= _andn_u64(x, m) + _blsi_u64(x) + _blsmsk_u64(m) + _blsr_u64(x) + _bextr_u64(x, (unsigned)(m & 31), 17);
        unsigned long long hi;
        b2 += _mulx_u64(x, m, &hi) ^ hi;
        b2 += (x << (m & 63)) ^ (x >> (m & 63)) ^ (uint64_t)((int64_t)x >> (m & 63));
        b3 += _lzcnt_u64(x & m) + _tzcnt_u64(x & m) + (uint64_t)_mm_popcnt_u64(x ^ m);
        uint32_t be;
        __asm__("movbe %1, %0" : "=r"(be) : "m"(*(const uint32_t *)&qa[i]));
        b3 = (b3 << 7 | b3 >> 57) ^ be;
        b3 = (b3 >> 13 | b3 << 51) ^ _lzcnt_u32((uint32_t)x);   /* RORX */
    }
    printf("bmi: %016llx %016llx %016llx\n", (unsigned long long)b1, (unsigned long long)b2, (unsigned long long)b3);

    /* F16C: round trips with every rounding-control immediate. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < N; i += 8) {
        __m256 a = _mm256_loadu_ps(&fa[i]);
        __m128i p0 = _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT);
        __m128i p1 = _mm256_cvtps_ph(a, _MM_FROUND_TO_NEG_INF);
        __m128i p2 = _mm256_cvtps_ph(_mm256_mul_ps(a, _mm256_set1_ps(1e-6f)), _MM_FROUND_TO_POS_INF);
        __m128i p3 = _mm256_cvtps_ph(_mm256_mul_ps(a, _mm256_set1_ps(1e3f)), _MM_FROUND_TO_ZERO);
        __m256 back = _mm256_cvtph_ps(p2);
        h = fnv(h, &p0, 16); h = fnv(h, &p1, 16); h = fnv(h, &p2, 16); h = fnv(h, &p3, 16);
        h = fnv(h, &back, 32);
    }
    printf("f16c: %016llx\n", (unsigned long long)h);

    /* libm (glibc selects FMA/AVX2 variants from CPUID). */
    double lm = 0;
    for (int i = 0; i < 512; i++) {
        double x = da[i] / 65536.0;
        lm += exp(x / 100) + log(fabs(x) + 1) + sin(x) * cos(x) + atan(x) + pow(fabs(x) + 0.5, 0.3) + tanh(x / 10000);
    }
    printf("libm: %a %a %a %a\n", lm, expf(fc[5] / 10), log2(db[7] + 1), sqrt(db[9]));

    /* libc string and sort functions (AVX2 variants on an AVX2 CPU). */
    memcpy(bytes2, bytes, sizeof bytes);
    memmove(bytes2 + 3, bytes2, sizeof bytes - 3);
    memset(bytes2 + 1000, 0x5A, 777);
    bytes2[sizeof bytes2 - 1] = 0;
    size_t len = strlen((const char *)bytes2 + 5);
    const void *found = memchr(bytes2, 0x5A, sizeof bytes2);
    qsort(qa, N, sizeof qa[0], cmp_u64);
    printf("libc: %016llx %zu %td %d %016llx\n", (unsigned long long)HASH(bytes2), len,
           (const unsigned char *)found - bytes2, memcmp(bytes, bytes2, sizeof bytes) < 0, (unsigned long long)HASH(qa));
    printf("done\n");
    return 0;
}
