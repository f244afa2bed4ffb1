// Elementwise activations with an optional fused bias add, forward and backward.
//
// Layout: x is viewed as (outer, channels, inner); the bias has `channels` entries and is
// broadcast along the channel axis: Dense (N, C) is inner = 1, Conv (N, C, H*W) is inner = H*W.
// Forward writes y = act(x + bias) (bias only when has_bias) and, when store_preact, the
// pre-activation z = x + bias to `preact` (unused pointers may alias x or y). Backward always takes z (which is x itself when no bias was fused) and recomputes
// act'(z): sigmoid/tanh/gelu are cheaper to recompute than to store a second tensor.
// Math is done in float for every storage type.
//
// The host passes `n_packs`: how many 16-byte packs of elements it may load as one vector
// (0 when a pointer is not 16-byte aligned). The packs cover [0, n_packs * PACK); a scalar
// grid-stride loop handles the tail.
//
// mxlite-name-expressions: activation_forward<float>, activation_forward<__half>, activation_forward<__nv_bfloat16>, activation_backward<float>, activation_backward<__half>, activation_backward<__nv_bfloat16>
#include "common.cuh"

template <typename T> struct alignas(16) Pack16 {
    static constexpr int size = 16 / sizeof(T);
    T v[size];
};

// Activation codes, shared with mxlite/cuda/ops.py (ACTIVATIONS).
enum Activation {
    IDENTITY = 0, RELU = 1, LEAKY_RELU = 2, SIGMOID = 3, TANH = 4,
    GELU_ERF = 5, GELU_TANH = 6, SILU = 7
};

__device__ __forceinline__ float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

#define MXLITE_SQRT_2_OVER_PI 0.7978845608028654f
#define MXLITE_INV_SQRT_2 0.7071067811865476f
#define MXLITE_INV_SQRT_2PI 0.3989422804014327f
#define MXLITE_GELU_CUBIC 0.044715f

__device__ __forceinline__ float activate(float z, int act, float slope) {
    switch (act) {
    case RELU: return (z > 0.0f || isnan(z)) ? z : 0.0f;  // NaN propagates, as maximum(z, 0)
    case LEAKY_RELU: return z > 0.0f ? z : slope * z;
    case SIGMOID: return sigmoidf(z);
    case TANH: return tanhf(z);
    case GELU_ERF: return 0.5f * z * (1.0f + erff(z * MXLITE_INV_SQRT_2));
    case GELU_TANH:
        return 0.5f * z * (1.0f + tanhf(MXLITE_SQRT_2_OVER_PI * (z + MXLITE_GELU_CUBIC * z * z * z)));
    case SILU: return z * sigmoidf(z);
    default: return z;
    }
}

// d act(z) / dz; relu'(0) = 0 as in MXNet.
__device__ __forceinline__ float activate_grad(float z, int act, float slope) {
    switch (act) {
    case RELU: return z > 0.0f ? 1.0f : 0.0f;
    case LEAKY_RELU: return z > 0.0f ? 1.0f : slope;
    case SIGMOID: { float s = sigmoidf(z); return s * (1.0f - s); }
    case TANH: { float t = tanhf(z); return 1.0f - t * t; }
    case GELU_ERF:
        return 0.5f * (1.0f + erff(z * MXLITE_INV_SQRT_2)) + z * MXLITE_INV_SQRT_2PI * expf(-0.5f * z * z);
    case GELU_TANH: {
        float t = tanhf(MXLITE_SQRT_2_OVER_PI * (z + MXLITE_GELU_CUBIC * z * z * z));
        return 0.5f * (1.0f + t)
            + 0.5f * z * (1.0f - t * t) * MXLITE_SQRT_2_OVER_PI * (1.0f + 3.0f * MXLITE_GELU_CUBIC * z * z);
    }
    case SILU: { float s = sigmoidf(z); return s * (1.0f + z * (1.0f - s)); }
    default: return 1.0f;
    }
}


template <typename T>
__global__ void activation_forward(const T* __restrict__ x, const T* __restrict__ bias,
                                   T* y, T* preact,
                                   long long n, long long n_packs, int channels, int inner,
                                   int has_bias, int store_preact, int act, float slope) {
    constexpr int P = Pack16<T>::size;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long p = start; p < n_packs; p += stride) {
        Pack16<T> xin = reinterpret_cast<const Pack16<T>*>(x)[p];
        Pack16<T> zout, yout;
        // Channel of the pack's first element, then stepped: one division per pack, not per element.
        int within = 0, c = 0;
        if (has_bias) {
            const long long row = p * P / inner;
            within = (int)(p * P - row * inner);
            c = (int)(row % channels);
        }
        for (int j = 0; j < P; ++j) {
            float z = to_float(xin.v[j]);
            if (has_bias) {
                z += to_float(bias[c]);
                if (++within == inner) {
                    within = 0;
                    if (++c == channels) c = 0;
                }
            }
            zout.v[j] = from_float<T>(z);
            yout.v[j] = from_float<T>(activate(z, act, slope));
        }
        reinterpret_cast<Pack16<T>*>(y)[p] = yout;
        if (store_preact) reinterpret_cast<Pack16<T>*>(preact)[p] = zout;
    }
    for (long long i = n_packs * P + start; i < n; i += stride) {
        float z = to_float(x[i]);
        if (has_bias) z += to_float(bias[(i / inner) % channels]);
        y[i] = from_float<T>(activate(z, act, slope));
        if (store_preact) preact[i] = from_float<T>(z);
    }
}

template <typename T>
__global__ void activation_backward(const T* __restrict__ dy, const T* __restrict__ z,
                                    T* __restrict__ dz, long long n, long long n_packs,
                                    int act, float slope) {
    constexpr int P = Pack16<T>::size;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long p = start; p < n_packs; p += stride) {
        Pack16<T> g = reinterpret_cast<const Pack16<T>*>(dy)[p];
        Pack16<T> zin = reinterpret_cast<const Pack16<T>*>(z)[p];
        Pack16<T> out;
        for (int j = 0; j < P; ++j)
            out.v[j] = from_float<T>(to_float(g.v[j]) * activate_grad(to_float(zin.v[j]), act, slope));
        reinterpret_cast<Pack16<T>*>(dz)[p] = out;
    }
    for (long long i = n_packs * P + start; i < n; i += stride)
        dz[i] = from_float<T>(to_float(dy[i]) * activate_grad(to_float(z[i]), act, slope));
}
