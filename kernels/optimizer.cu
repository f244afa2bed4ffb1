// Fused optimizer updates over many parameters in one launch (multi-tensor apply).
//
// The kernel receives device arrays of pointers (as 64-bit integers), one entry per tensor, the
// tensor sizes, per-tensor hyper-parameters, and a block map: block b updates chunk
// block_chunk[b] (elements [chunk * chunk_size, (chunk + 1) * chunk_size)) of tensor
// block_tensor[b]. The host builds the map so that every chunk of every tensor has a block.
//
// Gradient preprocessing, as MXNet: g = rescale_grad * grad, then clipped to
// [-clip_gradient, clip_gradient] when clip_gradient >= 0.
//   SGD: g += wd * w; mom = momentum * mom - lr * g; w += mom (MXNet's sign: mom is the step).
//       Without momentum (has_momentum = 0): w -= lr * g.
//   Adam:  g += wd * w; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; w -= lr_t * m / (sqrt(v) + eps)
//   AdamW: g has no wd term; same m, v; w -= lr_t * m / (sqrt(v) + eps) + lr * wd * w (old w)
// with lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t) computed on the host per tensor (step_sizes).
//
// Weights and gradients are float (T = float), half (T = __half) or bfloat16 (T = __nv_bfloat16).
// For 16-bit weights, `masters` holds float32 master copies: the update runs on the master and
// the 16-bit weight is rewritten from it in the same pass; for float weights `masters` is not
// read. SGD reads `moms` only when has_momentum.
// An unused pointer table may alias another one. Optimizer states are always float32.
//
// mxlite-name-expressions: sgd_multi_update<float>, sgd_multi_update<__half>, sgd_multi_update<__nv_bfloat16>, adam_multi_update<float>, adam_multi_update<__half>, adam_multi_update<__nv_bfloat16>
#include "common.cuh"
template <typename T> struct HasMaster { static constexpr bool value = true; };
template <> struct HasMaster<float> { static constexpr bool value = false; };

__device__ __forceinline__ float preprocess(float grad, float rescale_grad, float clip_gradient) {
    float g = rescale_grad * grad;
    return clip_gradient >= 0.0f ? fminf(fmaxf(g, -clip_gradient), clip_gradient) : g;
}

template <typename T>
__global__ void sgd_multi_update(const unsigned long long* __restrict__ weights,
                                 const unsigned long long* __restrict__ grads,
                                 const unsigned long long* moms,
                                 const unsigned long long* masters,
                                 const long long* __restrict__ sizes, const float* __restrict__ lrs,
                                 const float* __restrict__ wds, const int* __restrict__ block_tensor,
                                 const int* __restrict__ block_chunk, long long chunk_size,
                                 int has_momentum, float momentum, float rescale_grad, float clip_gradient) {
    const int t = block_tensor[blockIdx.x];
    T* w = reinterpret_cast<T*>(weights[t]);
    const T* grad = reinterpret_cast<const T*>(grads[t]);
    float* mom = reinterpret_cast<float*>(moms[t]);
    float* master = reinterpret_cast<float*>(masters[t]);
    const float lr = lrs[t], wd = wds[t];
    const long long begin = block_chunk[blockIdx.x] * chunk_size;
    const long long end = min(begin + chunk_size, sizes[t]);
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        float weight = HasMaster<T>::value ? master[i] : to_float(w[i]);
        float g = preprocess(to_float(grad[i]), rescale_grad, clip_gradient) + wd * weight;
        if (has_momentum) {
            float state = momentum * mom[i] - lr * g;
            mom[i] = state;
            weight += state;
        } else {
            weight -= lr * g;
        }
        if (HasMaster<T>::value) master[i] = weight;
        w[i] = from_float<T>(weight);
    }
}

// decoupled = 0: Adam (wd enters the gradient); decoupled = 1: AdamW.
template <typename T>
__global__ void adam_multi_update(const unsigned long long* __restrict__ weights,
                                  const unsigned long long* __restrict__ grads,
                                  const unsigned long long* __restrict__ means,
                                  const unsigned long long* __restrict__ variances,
                                  const unsigned long long* masters,
                                  const long long* __restrict__ sizes, const float* __restrict__ lrs,
                                  const float* __restrict__ wds, const float* __restrict__ step_sizes,
                                  const int* __restrict__ block_tensor, const int* __restrict__ block_chunk,
                                  long long chunk_size, float beta1, float beta2, float epsilon,
                                  float rescale_grad, float clip_gradient, int decoupled) {
    const int t = block_tensor[blockIdx.x];
    T* w = reinterpret_cast<T*>(weights[t]);
    const T* grad = reinterpret_cast<const T*>(grads[t]);
    float* m = reinterpret_cast<float*>(means[t]);
    float* v = reinterpret_cast<float*>(variances[t]);
    float* master = reinterpret_cast<float*>(masters[t]);
    const float lr = lrs[t], wd = wds[t], step = step_sizes[t];
    const long long begin = block_chunk[blockIdx.x] * chunk_size;
    const long long end = min(begin + chunk_size, sizes[t]);
    for (long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
        float weight = HasMaster<T>::value ? master[i] : to_float(w[i]);
        float g = preprocess(to_float(grad[i]), rescale_grad, clip_gradient);
        if (!decoupled) g += wd * weight;
        float mean = beta1 * m[i] + (1.0f - beta1) * g;
        float var = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mean;
        v[i] = var;
        float update = step * mean / (sqrtf(var) + epsilon);
        if (decoupled) update += lr * wd * weight;
        weight -= update;
        if (HasMaster<T>::value) master[i] = weight;
        w[i] = from_float<T>(weight);
    }
}
