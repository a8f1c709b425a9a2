/* Copies into ring memory and the order check of a batch of times, for
   ext/_ring.pyx (C: intrinsics and run-time CPU dispatch). */
#ifndef TSE_RING_COPY_H
#define TSE_RING_COPY_H

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define TSE_AVX2_DISPATCH 1
#endif
/* Copy into ring memory. Large blocks bypass the cache (non-temporal stores):
   the ring's free slots are rarely cached, and a normal store first reads every
   line it writes from memory -- twice the traffic of the copy itself. */
static void tse_ring_copy(void* dst, const void* src, size_t n) {
#if defined(__SSE2__)
    if (n >= (size_t)1 << 16) {
        char* d = (char*)dst;
        const char* s = (const char*)src;
        size_t head = (16 - ((size_t)d & 15)) & 15;
        memcpy(d, s, head);
        d += head; s += head; n -= head;
        size_t i, blocks = n / 64;
        for (i = 0; i < blocks; i++) {
            __m128i a = _mm_loadu_si128((const __m128i*)(s + 64 * i));
            __m128i b = _mm_loadu_si128((const __m128i*)(s + 64 * i + 16));
            __m128i c = _mm_loadu_si128((const __m128i*)(s + 64 * i + 32));
            __m128i e = _mm_loadu_si128((const __m128i*)(s + 64 * i + 48));
            _mm_stream_si128((__m128i*)(d + 64 * i), a);
            _mm_stream_si128((__m128i*)(d + 64 * i + 16), b);
            _mm_stream_si128((__m128i*)(d + 64 * i + 32), c);
            _mm_stream_si128((__m128i*)(d + 64 * i + 48), e);
        }
        _mm_sfence();
        memcpy(d + 64 * blocks, s + 64 * blocks, n - 64 * blocks);
        return;
    }
#endif
    memcpy(dst, src, n);
}

/* The order check of a batch of times is a subtraction, not a comparison:
   SSE2 has no 64-bit signed compare (compilers fall back to scalar code), but
   while every time lies in [-2**62, 2**62) (years 1824-2116 in ns)
   t[i] - t[i-1] - eps cannot overflow, and its sign bit says whether
   t[i] < t[i-1] + eps. A time outside that range also sets the sign bit of
   t + 2**62, so "bad" below means "not proven in order" and the caller settles
   it with an exact scan. eps is 1 for strictly increasing times, 0 when equal
   times are allowed. */
#define TSE_RANGE_OFFSET ((uint64_t)1 << 62)

static int tse_times_fast_ok(const int64_t* t, size_t n, uint64_t eps) {
    const uint64_t* u = (const uint64_t*)t;
    uint64_t bad = n ? u[0] + TSE_RANGE_OFFSET : 0;
    size_t i;
    for (i = 1; i < n; i++)
        bad |= (u[i] - u[i - 1] - eps) | (u[i] + TSE_RANGE_OFFSET);
    return (bad >> 63) == 0;
}

#if defined(TSE_AVX2_DISPATCH)
/* Copy n >= 8 times with 32-byte non-temporal stores and check their order in
   the same pass: the batch is read once, and the checking arithmetic hides
   under the stores' memory traffic. dst must be 8-byte aligned. */
__attribute__((target("avx2")))
static int tse_copy_times_avx2(int64_t* dst, const int64_t* src, size_t n,
                               uint64_t eps) {
    const uint64_t* u = (const uint64_t*)src;
    uint64_t bad = 0;
    size_t i;
    /* 1 to 4 scalar points, so that dst + head is 32-byte aligned and the
       vector loop always has a predecessor to load */
    size_t head = 4 - (((uintptr_t)dst >> 3) & 3);
    if (head > n) head = n;
    for (i = 0; i < head; i++) {
        dst[i] = src[i];
        bad |= u[i] + TSE_RANGE_OFFSET;
        if (i) bad |= u[i] - u[i - 1] - eps;
    }
    __m256i vbad = _mm256_setzero_si256();
    const __m256i veps = _mm256_set1_epi64x((long long)eps);
    const __m256i voff = _mm256_set1_epi64x((long long)TSE_RANGE_OFFSET);
    for (; i + 8 <= n; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i*)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i*)(src + i + 4));
        __m256i pa = _mm256_loadu_si256((const __m256i*)(src + i - 1));
        __m256i pb = _mm256_loadu_si256((const __m256i*)(src + i + 3));
        _mm256_stream_si256((__m256i*)(dst + i), a);
        _mm256_stream_si256((__m256i*)(dst + i + 4), b);
        __m256i da = _mm256_sub_epi64(_mm256_sub_epi64(a, pa), veps);
        __m256i db = _mm256_sub_epi64(_mm256_sub_epi64(b, pb), veps);
        __m256i ra = _mm256_add_epi64(a, voff);
        __m256i rb = _mm256_add_epi64(b, voff);
        vbad = _mm256_or_si256(vbad, _mm256_or_si256(_mm256_or_si256(da, db),
                                                     _mm256_or_si256(ra, rb)));
    }
    /* the stores must be visible before the caller publishes the new count */
    _mm_sfence();
    for (; i < n; i++) {
        dst[i] = src[i];
        bad |= (u[i] - u[i - 1] - eps) | (u[i] + TSE_RANGE_OFFSET);
    }
    return (bad >> 63) == 0
        && _mm256_movemask_pd(_mm256_castsi256_pd(vbad)) == 0;
}
#endif

/* Copy n times into ring memory; return 1 if they are proven in order (see
   above), 0 if not proven. The copy happens either way: it lands in free
   slots, which nobody reads until the caller publishes them. */
static int tse_copy_times(int64_t* dst, const int64_t* src, size_t n,
                          int allow_equal) {
    uint64_t eps = allow_equal ? 0 : 1;
#if defined(TSE_AVX2_DISPATCH)
    if (n * 8 >= (size_t)1 << 16 && __builtin_cpu_supports("avx2"))
        return tse_copy_times_avx2(dst, src, n, eps);
#endif
    tse_ring_copy(dst, src, n * 8);
    return tse_times_fast_ok(src, n, eps);
}

#endif  /* TSE_RING_COPY_H */
