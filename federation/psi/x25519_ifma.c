/* X25519 (RFC 7748) of one secret scalar with many u-coordinates, sixteen at a time on AVX-512 IFMA.

   The same function as OpenSSL's X25519 (tests/federation/test_psi_kernel.py compares them on random,
   non-canonical and small-order inputs): the Montgomery ladder of RFC 7748 section 5, x and z in five
   51-bit limbs, each 64-bit lane of an AVX-512 register holding one of eight points, two groups of eight per
   ladder (function `ladder`). All lanes share the scalar, so the conditional swaps are one broadcast mask; the loop runs 255 steps whatever the scalar
   and touches no memory that depends on it (constant time in the secret, like the reference ladder).
   Built and loaded by federation/psi/kernel.py; machines without AVX-512 IFMA use `cryptography`. */
#include <stdint.h>
#include <string.h>

/* Only the code below this pragma may use AVX-512: xyd_x25519_supported (compiled without it, at the end)
   must run on any x86-64 CPU to say whether the rest can. */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512ifma")
#include <immintrin.h>

typedef __m512i v8;
typedef struct { v8 l[5]; } fe8;  /* five 51-bit limbs, eight field elements (one per 64-bit lane) */

#define MASK51 ((1ULL << 51) - 1)

static inline v8 bc(uint64_t x) { return _mm512_set1_epi64((long long)x); }

/* Carry so that limbs 1..4 are below 2^51 and limb 0 below 2^52 (IFMA reads 52 bits of each input). */
static inline void carry(fe8 *r) {
    const v8 m = bc(MASK51);
    v8 c;
    for (int i = 0; i < 4; i++) {
        c = _mm512_srli_epi64(r->l[i], 51);
        r->l[i] = _mm512_and_si512(r->l[i], m);
        r->l[i + 1] = _mm512_add_epi64(r->l[i + 1], c);
    }
    c = _mm512_srli_epi64(r->l[4], 51);
    r->l[4] = _mm512_and_si512(r->l[4], m);
    /* 19 c = 16 c + 2 c + c */
    c = _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(c, 4), _mm512_slli_epi64(c, 1)), c);
    r->l[0] = _mm512_add_epi64(r->l[0], c);
}

static inline v8 times19(v8 x) {
    return _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(x, 4), _mm512_slli_epi64(x, 1)), x);
}

static inline void fe_mul(fe8 *h, const fe8 *f, const fe8 *g) {
    v8 lo[9], hi[9];
    const v8 z = _mm512_setzero_si512();
    for (int k = 0; k < 9; k++) { lo[k] = z; hi[k] = z; }
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], f->l[i], g->l[j]);
            hi[i + j] = _mm512_madd52hi_epu64(hi[i + j], f->l[i], g->l[j]);
        }
    }
    /* column k (weight 2^(51k)) = lo[k] + 2 hi[k-1]; columns 5..9 fold into 0..4 times 19 */
    v8 c[10];
    c[0] = lo[0];
    for (int k = 1; k < 9; k++) c[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k - 1], 1));
    c[9] = _mm512_slli_epi64(hi[8], 1);
    fe8 r;
    for (int k = 0; k < 5; k++) r.l[k] = _mm512_add_epi64(c[k], times19(c[k + 5]));
    carry(&r);
    *h = r;
}

/* f^2 with 15 products instead of 25: the cross products f_i f_j (i < j) once, their sums doubled. */
static inline void fe_sq(fe8 *h, const fe8 *f) {
    v8 lo[9], hi[9], dlo[9], dhi[9];
    const v8 z = _mm512_setzero_si512();
    for (int k = 0; k < 9; k++) { lo[k] = z; hi[k] = z; dlo[k] = z; dhi[k] = z; }
    for (int i = 0; i < 5; i++) {
        dlo[2 * i] = _mm512_madd52lo_epu64(z, f->l[i], f->l[i]);
        dhi[2 * i] = _mm512_madd52hi_epu64(z, f->l[i], f->l[i]);
        for (int j = i + 1; j < 5; j++) {
            lo[i + j] = _mm512_madd52lo_epu64(lo[i + j], f->l[i], f->l[j]);
            hi[i + j] = _mm512_madd52hi_epu64(hi[i + j], f->l[i], f->l[j]);
        }
    }
    /* column k = (2 lo[k] + dlo[k]) + 2 (2 hi[k-1] + dhi[k-1]) */
    for (int k = 0; k < 9; k++) {
        lo[k] = _mm512_add_epi64(_mm512_slli_epi64(lo[k], 1), dlo[k]);
        hi[k] = _mm512_add_epi64(_mm512_slli_epi64(hi[k], 1), dhi[k]);
    }
    v8 c[10];
    c[0] = lo[0];
    for (int k = 1; k < 9; k++) c[k] = _mm512_add_epi64(lo[k], _mm512_slli_epi64(hi[k - 1], 1));
    c[9] = _mm512_slli_epi64(hi[8], 1);
    fe8 r;
    for (int k = 0; k < 5; k++) r.l[k] = _mm512_add_epi64(c[k], times19(c[k + 5]));
    carry(&r);
    *h = r;
}

static inline void fe_add(fe8 *h, const fe8 *f, const fe8 *g) {
    for (int i = 0; i < 5; i++) h->l[i] = _mm512_add_epi64(f->l[i], g->l[i]);
    carry(h);
}

/* f - g + 2p: with g carried (limb 0 < 2^52 - 38, others < 2^51) every limb stays non-negative */
static inline void fe_sub(fe8 *h, const fe8 *f, const fe8 *g) {
    h->l[0] = _mm512_sub_epi64(_mm512_add_epi64(f->l[0], bc(2 * (MASK51 - 18))), g->l[0]);
    for (int i = 1; i < 5; i++) h->l[i] = _mm512_sub_epi64(_mm512_add_epi64(f->l[i], bc(2 * MASK51)), g->l[i]);
    carry(h);
}

static inline void fe_mul_a24(fe8 *h, const fe8 *f) {
    const v8 a24 = bc(121665), z = _mm512_setzero_si512();
    v8 lo[5], hi[5];
    for (int i = 0; i < 5; i++) {
        lo[i] = _mm512_madd52lo_epu64(z, f->l[i], a24);
        hi[i] = _mm512_madd52hi_epu64(z, f->l[i], a24);
    }
    fe8 r;
    r.l[0] = _mm512_add_epi64(lo[0], times19(_mm512_slli_epi64(hi[4], 1)));
    for (int i = 1; i < 5; i++) r.l[i] = _mm512_add_epi64(lo[i], _mm512_slli_epi64(hi[i - 1], 1));
    carry(&r);
    *h = r;
}

static inline void fe_cswap(fe8 *a, fe8 *b, v8 mask) {
    for (int i = 0; i < 5; i++) {
        v8 t = _mm512_and_si512(mask, _mm512_xor_si512(a->l[i], b->l[i]));
        a->l[i] = _mm512_xor_si512(a->l[i], t);
        b->l[i] = _mm512_xor_si512(b->l[i], t);
    }
}

static inline void fe_sqn(fe8 *h, const fe8 *f, int n) {
    fe_sq(h, f);
    for (int i = 1; i < n; i++) fe_sq(h, h);
}

/* z^(p-2), the usual chain: 254 squarings and 11 multiplications */
static void fe_invert(fe8 *out, const fe8 *z) {
    fe8 t0, t1, t2, t3;
    fe_sqn(&t0, z, 1);
    fe_sqn(&t1, &t0, 2);
    fe_mul(&t1, z, &t1);
    fe_mul(&t0, &t0, &t1);
    fe_sqn(&t2, &t0, 1);
    fe_mul(&t1, &t1, &t2);
    fe_sqn(&t2, &t1, 5);
    fe_mul(&t1, &t2, &t1);
    fe_sqn(&t2, &t1, 10);
    fe_mul(&t2, &t2, &t1);
    fe_sqn(&t3, &t2, 20);
    fe_mul(&t2, &t3, &t2);
    fe_sqn(&t2, &t2, 10);
    fe_mul(&t1, &t2, &t1);
    fe_sqn(&t2, &t1, 50);
    fe_mul(&t2, &t2, &t1);
    fe_sqn(&t3, &t2, 100);
    fe_mul(&t2, &t3, &t2);
    fe_sqn(&t2, &t2, 50);
    fe_mul(&t1, &t2, &t1);
    fe_sqn(&t1, &t1, 5);
    fe_mul(out, &t1, &t0);
}

static void load_lane(uint64_t limbs[5], const unsigned char *u) {
    uint64_t w[4];
    memcpy(w, u, 32);  /* little-endian host */
    w[3] &= 0x7FFFFFFFFFFFFFFFULL;
    limbs[0] = w[0] & MASK51;
    limbs[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
    limbs[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
    limbs[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
    limbs[4] = (w[3] >> 12) & MASK51;
}

/* Fully reduce modulo p = 2^255 - 19 and write 32 little-endian bytes. */
static void store_lane(unsigned char *out, const uint64_t in[5]) {
    uint64_t t[5];
    memcpy(t, in, sizeof t);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 4; i++) { t[i + 1] += t[i] >> 51; t[i] &= MASK51; }
        t[0] += 19 * (t[4] >> 51); t[4] &= MASK51;
    }
    /* now t < 2^255 + small; subtract p if t >= p, branch-free: q = 1 iff t + 19 >= 2^255 */
    uint64_t q = (t[0] + 19) >> 51;
    for (int i = 1; i < 5; i++) q = (t[i] + q) >> 51;
    t[0] += 19 * q;
    for (int i = 0; i < 4; i++) { t[i + 1] += t[i] >> 51; t[i] &= MASK51; }
    t[4] &= MASK51;
    uint64_t w[4];
    w[0] = t[0] | (t[1] << 51);
    w[1] = (t[1] >> 13) | (t[2] << 38);
    w[2] = (t[2] >> 26) | (t[3] << 25);
    w[3] = (t[3] >> 39) | (t[4] << 12);
    memcpy(out, w, 32);
}

/* Two independent groups of eight per ladder: each step's field operation runs on both groups back to back,
   so the out-of-order core overlaps one group's serial carry chains with the other's products. */
#define GROUPS 2
#define LANES (8 * GROUPS)

static void ladder(unsigned char out[LANES][32], const unsigned char in[LANES][32], const unsigned char k[32]) {
    uint64_t lanes[GROUPS][5][8] __attribute__((aligned(64)));
    for (int j = 0; j < LANES; j++) {
        uint64_t limbs[5];
        load_lane(limbs, in[j]);
        for (int i = 0; i < 5; i++) lanes[j / 8][i][j % 8] = limbs[i];
    }
    fe8 x1[GROUPS], x2[GROUPS], z2[GROUPS], x3[GROUPS], z3[GROUPS];
    fe8 a[GROUPS], aa[GROUPS], b[GROUPS], bb[GROUPS], e[GROUPS], c[GROUPS], d[GROUPS], da[GROUPS], cb[GROUPS];
    fe8 t[GROUPS];
    for (int g = 0; g < GROUPS; g++) {
        for (int i = 0; i < 5; i++) {
            x1[g].l[i] = _mm512_load_si512((const void *)lanes[g][i]);
            x2[g].l[i] = bc(i == 0);
            z2[g].l[i] = bc(0);
            z3[g].l[i] = bc(i == 0);
        }
        x3[g] = x1[g];
    }
    uint64_t swap = 0;
#define BOTH(stmt) for (int g = 0; g < GROUPS; g++) { stmt; }
    for (int pos = 254; pos >= 0; pos--) {
        uint64_t bit = (k[pos >> 3] >> (pos & 7)) & 1;
        swap ^= bit;
        v8 mask = bc(0 - swap);
        BOTH(fe_cswap(&x2[g], &x3[g], mask); fe_cswap(&z2[g], &z3[g], mask))
        swap = bit;
        BOTH(fe_add(&a[g], &x2[g], &z2[g]))
        BOTH(fe_sq(&aa[g], &a[g]))
        BOTH(fe_sub(&b[g], &x2[g], &z2[g]))
        BOTH(fe_sq(&bb[g], &b[g]))
        BOTH(fe_sub(&e[g], &aa[g], &bb[g]))
        BOTH(fe_add(&c[g], &x3[g], &z3[g]))
        BOTH(fe_sub(&d[g], &x3[g], &z3[g]))
        BOTH(fe_mul(&da[g], &d[g], &a[g]))
        BOTH(fe_mul(&cb[g], &c[g], &b[g]))
        BOTH(fe_add(&t[g], &da[g], &cb[g]))
        BOTH(fe_sq(&x3[g], &t[g]))
        BOTH(fe_sub(&t[g], &da[g], &cb[g]))
        BOTH(fe_sq(&t[g], &t[g]))
        BOTH(fe_mul(&z3[g], &x1[g], &t[g]))
        BOTH(fe_mul(&x2[g], &aa[g], &bb[g]))
        BOTH(fe_mul_a24(&t[g], &e[g]))
        BOTH(fe_add(&t[g], &aa[g], &t[g]))
        BOTH(fe_mul(&z2[g], &e[g], &t[g]))
    }
    v8 mask = bc(0 - swap);
    BOTH(fe_cswap(&x2[g], &x3[g], mask); fe_cswap(&z2[g], &z3[g], mask))
#undef BOTH
    for (int g = 0; g < GROUPS; g++) {
        fe_invert(&z2[g], &z2[g]);
        fe_mul(&x2[g], &x2[g], &z2[g]);
        for (int i = 0; i < 5; i++) _mm512_store_si512((void *)lanes[g][i], x2[g].l[i]);
    }
    for (int j = 0; j < LANES; j++) {
        uint64_t limbs[5];
        for (int i = 0; i < 5; i++) limbs[i] = lanes[j / 8][i][j % 8];
        store_lane(out[j], limbs);
    }
}

/* out[i] = X25519(scalar, in[i]) for i < n. Returns -1, or the first index whose result is all zero
   (a point of small order: RFC 7748's check), after computing every output. */
long xyd_x25519_many(const unsigned char *scalar, const unsigned char *in, unsigned char *out, long n) {
    unsigned char k[32];
    memcpy(k, scalar, 32);
    k[0] &= 248; k[31] &= 127; k[31] |= 64;
    unsigned char src[LANES][32] __attribute__((aligned(64))), dst[LANES][32] __attribute__((aligned(64)));
    for (long start = 0; start < n; start += LANES) {
        long m = n - start < LANES ? n - start : LANES;
        for (long j = 0; j < LANES; j++) memcpy(src[j], in + 32 * (start + (j < m ? j : 0)), 32);
        ladder(dst, (const unsigned char (*)[32])src, k);
        memcpy(out + 32 * start, dst, 32 * m);
    }
    memset(k, 0, sizeof k);
    long first_zero = -1;
    for (long i = 0; i < n && first_zero < 0; i++) {
        unsigned char acc = 0;
        for (int j = 0; j < 32; j++) acc |= out[32 * i + j];
        if (acc == 0) first_zero = i;
    }
    return first_zero;
}

#pragma GCC pop_options

int xyd_x25519_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}
