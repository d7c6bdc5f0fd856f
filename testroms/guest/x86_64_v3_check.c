// x86-64-v3 workload for the Linux guest: built with `gcc -O2 -march=x86-64-v3 -static`, run in
// the guest and on the host; the printed checksums must be identical. Each section uses the
// instructions it names through intrinsics (so they are certainly emitted) plus plain loops the
// compiler vectorises with AVX2/FMA. Deterministic: no time, no addresses, no RDRAND values.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) { h ^= b[i]; h *= 0x100000001b3ULL; }
    return h;
}

static uint64_t rng_state = 0x243F6A8885A308D3ULL;
static uint64_t next(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

#define N 4096
static float fa[N], fb[N], fc[N], fr[N];
static double da[N], db[N], dc[N], dr[N];
static int32_t ia[N], ib[N], ir[N];
static uint16_t half[N];
static uint8_t bytes[N];

static void fill(void) {
    for (int i = 0; i < N; i++) {
        uint64_t r = next();
        fa[i] = (float)((int64_t)(r & 0xFFFFF) - 0x80000) / 1024.0f;
        fb[i] = (float)((int64_t)((r >> 20) & 0xFFFFF) - 0x80000) / 4096.0f;
        fc[i] = (float)((int64_t)((r >> 40) & 0xFFFFF) - 0x80000) / 256.0f;
        da[i] = (double)(int64_t)(r >> 11) / 3.0e12;
        db[i] = (double)(int32_t)r / 7.0e3;
        dc[i] = (double)(int16_t)(r >> 48) * 1.25;
        ia[i] = (int32_t)r; ib[i] = (int32_t)(r >> 32);
        bytes[i] = (uint8_t)(r >> 17);
    }
}

// Plain loops: gcc turns these into VFMADD231PS/PD ymm, VPMULLD, VPMAXSD, VPADDD etc.
static uint64_t loops(void) {
    for (int i = 0; i < N; i++) fr[i] = fa[i] * fb[i] + fc[i];
    for (int i = 0; i < N; i++) dr[i] = da[i] * db[i] - dc[i];
    for (int i = 0; i < N; i++) ir[i] = (ia[i] * ib[i]) ^ (ia[i] > ib[i] ? ia[i] : ib[i]);
    uint64_t h = fnv(0xcbf29ce484222325ULL, fr, sizeof fr);
    h = fnv(h, dr, sizeof dr);
    h = fnv(h, ir, sizeof ir);
    float s = 0; double t = 0;
    for (int i = 0; i < N; i++) { s += fr[i] * 1e-6f; t += dr[i] * dr[i]; }
    h = fnv(h, &s, sizeof s); h = fnv(h, &t, sizeof t);
    return h;
}

static uint64_t fma_section(void) {
    uint64_t h = 0x1234;
    static const int modes[4] = { _MM_ROUND_NEAREST, _MM_ROUND_DOWN, _MM_ROUND_UP, _MM_ROUND_TOWARD_ZERO };
    unsigned int saved = _mm_getcsr();
    for (int m = 0; m < 4; m++) {
        _mm_setcsr((saved & ~0x6000u) | modes[m]);
        for (int i = 0; i + 8 <= N; i += 8) {
            __m256 a = _mm256_loadu_ps(fa + i), b = _mm256_loadu_ps(fb + i), c = _mm256_loadu_ps(fc + i);
            __m256 r = _mm256_fmadd_ps(a, b, c);
            r = _mm256_fmsub_ps(r, b, a);
            r = _mm256_fnmadd_ps(r, c, b);
            r = _mm256_fmaddsub_ps(r, a, c);
            r = _mm256_fmsubadd_ps(r, b, c);
            __m256d x = _mm256_loadu_pd(da + (i / 2)), y = _mm256_loadu_pd(db + (i / 2)), z = _mm256_loadu_pd(dc + (i / 2));
            __m256d q = _mm256_fnmsub_pd(_mm256_fmadd_pd(x, y, z), z, x);
            __m128 s = _mm_fmadd_ss(_mm256_castps256_ps128(r), _mm_set_ss(fb[i]), _mm_set_ss(fc[i]));
            __m128d sd = _mm_fnmadd_sd(_mm256_castpd256_pd128(q), _mm_set_sd(db[i]), _mm_set_sd(dc[i]));
            h = fnv(h, &r, sizeof r); h = fnv(h, &q, sizeof q);
            h = fnv(h, &s, 4); h = fnv(h, &sd, 8);
        }
        unsigned int flags = _mm_getcsr() & 0x3F;
        h = fnv(h, &flags, sizeof flags);
    }
    _mm_setcsr(saved);
    return h;
}

static uint64_t avx2_int(void) {
    uint64_t h = 0x5678;
    for (int i = 0; i + 16 <= N; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(ia + i)), b = _mm256_loadu_si256((const __m256i *)(ib + i));
        __m256i r = _mm256_add_epi32(_mm256_mullo_epi32(a, b), _mm256_srlv_epi32(a, _mm256_and_si256(b, _mm256_set1_epi32(31))));
        r = _mm256_xor_si256(r, _mm256_sllv_epi64(b, _mm256_and_si256(a, _mm256_set1_epi64x(63))));
        r = _mm256_sub_epi16(r, _mm256_srav_epi32(a, _mm256_set1_epi32(7)));
        r = _mm256_permutevar8x32_epi32(r, _mm256_and_si256(b, _mm256_set1_epi32(7)));
        r = _mm256_permute4x64_epi64(r, 0x9C);
        r = _mm256_blend_epi32(r, a, 0x5A);
        r = _mm256_shuffle_epi8(r, b);
        r = _mm256_packs_epi32(r, a);
        r = _mm256_max_epu8(r, _mm256_abs_epi8(b));
        r = _mm256_alignr_epi8(r, a, 5);
        r = _mm256_permute2x128_si256(r, b, 0x21);
        r = _mm256_inserti128_si256(r, _mm256_extracti128_si256(a, 1), 0);
        r = _mm256_madd_epi16(r, b);
        r = _mm256_sad_epu8(r, a);
        r = _mm256_cmpgt_epi64(r, b);
        r = _mm256_unpackhi_epi8(r, a);
        r = _mm256_cvtepu8_epi32(_mm256_castsi256_si128(r));
        r = _mm256_add_epi64(r, _mm256_broadcastq_epi64(_mm256_castsi256_si128(a)));
        int mask = _mm256_movemask_epi8(r);
        int t = _mm256_testz_si256(r, b) | _mm256_testc_si256(a, b) << 1;
        h = fnv(h, &r, sizeof r); h = fnv(h, &mask, sizeof mask); h = fnv(h, &t, sizeof t);
        // Gathers (indices in range) and masked loads/stores.
        __m256i idx = _mm256_and_si256(a, _mm256_set1_epi32(N - 1));
        __m256i g = _mm256_i32gather_epi32(ib, idx, 4);
        __m256i gm = _mm256_mask_i32gather_epi32(a, ib, idx, b, 4);
        __m256d gd = _mm256_i32gather_pd(db, _mm256_castsi256_si128(idx), 8);
        __m128 gq = _mm256_i64gather_ps(fb, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(ia + i + 8)), _mm256_set1_epi64x(N - 1)), 4);
        __m256i ml = _mm256_maskload_epi32(ia + i, b);
        _mm256_maskstore_epi32(ir + i, a, ml);
        h = fnv(h, &g, sizeof g); h = fnv(h, &gm, sizeof gm); h = fnv(h, &gd, sizeof gd);
        h = fnv(h, &gq, sizeof gq); h = fnv(h, ir + i, 32);
    }
    return h;
}

static uint64_t avx_fp(void) {
    uint64_t h = 0x9ABC;
    for (int i = 0; i + 8 <= N; i += 8) {
        __m256 a = _mm256_loadu_ps(fa + i), b = _mm256_loadu_ps(fb + i);
        __m256 r = _mm256_div_ps(_mm256_sqrt_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a)), _mm256_add_ps(b, _mm256_set1_ps(1e-3f)));
        r = _mm256_hadd_ps(r, _mm256_round_ps(b, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        r = _mm256_dp_ps(r, a, 0xF1);
        r = _mm256_blendv_ps(r, b, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
        r = _mm256_permutevar_ps(r, _mm256_castps_si256(a));
        r = _mm256_permute2f128_ps(r, a, 0x13);
        r = _mm256_max_ps(r, _mm256_broadcast_ss(fc + i));
        __m256d d = _mm256_cvtps_pd(_mm256_castps256_ps128(r));
        __m128i cv = _mm256_cvttpd_epi32(d);
        __m128i ph = _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT);
        __m256 back = _mm256_cvtph_ps(ph);
        _mm_storeu_si128((__m128i *)(half + i), ph);
        h = fnv(h, &r, sizeof r); h = fnv(h, &d, sizeof d); h = fnv(h, &cv, sizeof cv); h = fnv(h, &back, sizeof back);
    }
    return fnv(h, half, sizeof half);
}

static uint64_t scalar_bits(void) {
    uint64_t h = 0xDEF0;
    for (int i = 0; i < N; i++) {
        uint64_t x = next(), y = next();
        uint64_t v = _pdep_u64(x, y) ^ _pext_u64(y, x);
        v += _bzhi_u64(x, (unsigned)y & 63) + _lzcnt_u64(x >> (y & 63)) + _tzcnt_u64(y | 1u << 20);
        v ^= _andn_u64(x, y) + _blsr_u64(x) + _blsi_u64(y) + _blsmsk_u64(x);
        v += _bextr_u64(x, (unsigned)(y & 63), (unsigned)((y >> 8) & 63));
        unsigned long long hi;
        v ^= _mulx_u64(x, y, &hi) + hi;
        v += (x << (y & 63)) | (x >> ((y >> 6) & 63)) | (uint64_t)((int64_t)x >> (y & 63));   // SHLX/SHRX/SARX
        v += __builtin_bswap64(x) + __builtin_bswap32((uint32_t)y);                          // MOVBE on loads
        v ^= (uint64_t)__builtin_popcountll(x) << 32;
        uint32_t be;
        memcpy(&be, bytes + (i & (N - 8)), 4);
        v += __builtin_bswap32(be);
        h = fnv(h, &v, sizeof v);
    }
    return h;
}

int main(void) {
    fill();
    printf("loops   %016llx\n", (unsigned long long)loops());
    printf("fma     %016llx\n", (unsigned long long)fma_section());
    printf("avx2int %016llx\n", (unsigned long long)avx2_int());
    printf("avxfp   %016llx\n", (unsigned long long)avx_fp());
    printf("bits    %016llx\n", (unsigned long long)scalar_bits());
    _mm256_zeroupper();
    printf("X86-64-V3-CHECK-DONE\n");
    return 0;
}
