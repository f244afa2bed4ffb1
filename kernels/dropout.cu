// Dropout with an in-kernel counter-based RNG (Philox 4x32-10), forward and backward.
//
// Element i belongs to group g = i / 4 and takes word i % 4 of
//     philox4x32_10(counter = (lo32(g), hi32(g), lo32(offset), hi32(offset)),
//                   key = (lo32(seed), hi32(seed))).
// It is kept when that 32-bit word >= threshold = floor(p * 2^32) (an exact integer test, so
// mxlite/cuda/philox.py reproduces the mask bit for bit), and a kept element is scaled by
// 1 / (1 - p). The backward regenerates the same mask from (seed, offset): it is this kernel
// applied to dy, so no mask is stored. Callers advance `offset` between calls that must draw
// different masks under one seed.
//
// One thread per group of 4 elements (one Philox call); a group is loaded as one 4-element
// vector when the host says the pointers are aligned to 4 * sizeof(T) (16 bytes for float).
//
// mxlite-name-expressions: dropout<float>, dropout<__half>, dropout<__nv_bfloat16>
#include "common.cuh"

template <typename T> struct alignas(4 * sizeof(T)) Group4 {
    T v[4];
};

struct Philox4 {
    unsigned int w[4];
};

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ Philox4 philox4x32_10(Philox4 c, unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; ++round) {
        unsigned int hi0 = __umulhi(PHILOX_M0, c.w[0]), lo0 = PHILOX_M0 * c.w[0];
        unsigned int hi1 = __umulhi(PHILOX_M1, c.w[2]), lo1 = PHILOX_M1 * c.w[2];
        c = {{hi1 ^ c.w[1] ^ k0, lo1, hi0 ^ c.w[3] ^ k1, lo0}};
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    return c;
}

// y = mask * x / (1 - p). n elements; `vectorized` != 0 when x and y are aligned to a group.
template <typename T>
__global__ void dropout(const T* __restrict__ x, T* __restrict__ y, long long n,
                        unsigned long long seed, unsigned long long offset,
                        unsigned int threshold, float scale, int vectorized) {
    const unsigned int k0 = (unsigned int)seed, k1 = (unsigned int)(seed >> 32);
    const long long groups = (n + 3) / 4;
    for (long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x; g < groups;
         g += (long long)blockDim.x * gridDim.x) {
        Philox4 counter = {{(unsigned int)g, (unsigned int)((unsigned long long)g >> 32),
                            (unsigned int)offset, (unsigned int)(offset >> 32)}};
        Philox4 bits = philox4x32_10(counter, k0, k1);
        const long long first = g * 4;
        if (vectorized && first + 4 <= n) {
            Group4<T> in = reinterpret_cast<const Group4<T>*>(x)[g], out;
            for (int j = 0; j < 4; ++j)
                out.v[j] = from_float<T>(bits.w[j] >= threshold ? to_float(in.v[j]) * scale : 0.0f);
            reinterpret_cast<Group4<T>*>(y)[g] = out;
        } else {
            for (int j = 0; j < 4 && first + j < n; ++j)
                y[first + j] = from_float<T>(bits.w[j] >= threshold ? to_float(x[first + j]) * scale : 0.0f);
        }
    }
}
