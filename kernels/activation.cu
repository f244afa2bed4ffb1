// Elementwise activations, forward and backward.
//
// Forward writes y = act(x). Backward takes x and recomputes act'(x): sigmoid/tanh/gelu are
// cheaper to recompute than to store a second tensor. Math is done in float for every storage
// type.
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

// Activation codes: the one definition; mxlite/cuda/ops.py reads ACTIVATIONS from this enum
// (names lower-cased).
enum Activation {
    IDENTITY = 0, RELU = 1, LEAKY_RELU = 2, SIGMOID = 3, TANH = 4,
    GELU = 5, GELU_TANH = 6, SILU = 7
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
    case GELU: return 0.5f * z * (1.0f + erff(z * MXLITE_INV_SQRT_2));
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
    case GELU:
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
__global__ void activation_forward(const T* __restrict__ x, T* __restrict__ y, long long n,
                                   long long n_packs, int act, float slope) {
    constexpr int P = Pack16<T>::size;
    const long long stride = (long long)blockDim.x * gridDim.x;
    const long long start = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (long long p = start; p < n_packs; p += stride) {
        Pack16<T> xin = reinterpret_cast<const Pack16<T>*>(x)[p];
        Pack16<T> yout;
        for (int j = 0; j < P; ++j) yout.v[j] = from_float<T>(activate(to_float(xin.v[j]), act, slope));
        reinterpret_cast<Pack16<T>*>(y)[p] = yout;
    }
    for (long long i = n_packs * P + start; i < n; i += stride)
        y[i] = from_float<T>(activate(to_float(x[i]), act, slope));
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
