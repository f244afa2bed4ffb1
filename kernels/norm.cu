// Layer norm over the last axis and batch norm over axis 1 of NCHW, forward and backward.
//
// Statistics use per-thread Welford accumulators merged with warp shuffles and one
// shared-memory step across warps (numerically safer than sum / sum-of-squares). Both save the
// mean and the inverse standard deviation 1/sqrt(var + eps) (float32) for the backward, with
// the biased variance (sum / count), as MXNet does.
//
// Layer norm is templated on the storage type of x, y, gamma, beta, dy, dx; statistics and
// dgamma/dbeta are float32. Batch norm is float32 only (MXNet keeps batch norm in float32 under
// cast('float16')).
//
// mxlite-name-expressions: layer_norm_forward<float>, layer_norm_forward<__half>, layer_norm_forward<__nv_bfloat16>, layer_norm_backward<float>, layer_norm_backward<__half>, layer_norm_backward<__nv_bfloat16>, layer_norm_backward_params<float>, layer_norm_backward_params<__half>, layer_norm_backward_params<__nv_bfloat16>
#include "common.cuh"

struct Welford {
    float count, mean, m2;  // m2: sum of squared deviations from mean
};

__device__ __forceinline__ Welford welford_add(Welford a, float v) {
    a.count += 1.0f;
    float delta = v - a.mean;
    a.mean += delta / a.count;
    a.m2 += delta * (v - a.mean);
    return a;
}

__device__ __forceinline__ Welford welford_merge(Welford a, Welford b) {
    float count = a.count + b.count;
    if (count == 0.0f) return a;
    float delta = b.mean - a.mean, share = b.count / count;
    return {count, a.mean + delta * share, a.m2 + b.m2 + delta * delta * a.count * share};
}

__device__ __forceinline__ Welford warp_welford(Welford v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        Welford other = {__shfl_xor_sync(MXLITE_FULL_MASK, v.count, offset),
                         __shfl_xor_sync(MXLITE_FULL_MASK, v.mean, offset),
                         __shfl_xor_sync(MXLITE_FULL_MASK, v.m2, offset)};
        v = welford_merge(v, other);
    }
    return v;
}

// Merges the block's accumulators; every thread gets the result. blockDim.x % 32 == 0.
__device__ __forceinline__ Welford block_welford(Welford v) {
    __shared__ float shared_count[32], shared_mean[32], shared_m2[32];
    v = warp_welford(v);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        shared_count[warp] = v.count;
        shared_mean[warp] = v.mean;
        shared_m2[warp] = v.m2;
    }
    __syncthreads();
    v = lane < warps ? Welford{shared_count[lane], shared_mean[lane], shared_m2[lane]} : Welford{0.0f, 0.0f, 0.0f};
    return warp_welford(v);
}

// Sums two values over the block; every thread gets both sums. blockDim.x % 32 == 0.
__device__ __forceinline__ float2 block_sum2(float a, float b) {
    __shared__ float shared_a[32], shared_b[32];
    for (int offset = 16; offset > 0; offset >>= 1) {
        a += __shfl_xor_sync(MXLITE_FULL_MASK, a, offset);
        b += __shfl_xor_sync(MXLITE_FULL_MASK, b, offset);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        shared_a[warp] = a;
        shared_b[warp] = b;
    }
    __syncthreads();
    a = lane < warps ? shared_a[lane] : 0.0f;
    b = lane < warps ? shared_b[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) {
        a += __shfl_xor_sync(MXLITE_FULL_MASK, a, offset);
        b += __shfl_xor_sync(MXLITE_FULL_MASK, b, offset);
    }
    return make_float2(a, b);
}

// ---- layer norm: one block per row of length `cols` ----

template <typename T>
__global__ void layer_norm_forward(const T* __restrict__ x, const T* __restrict__ gamma,
                                   const T* __restrict__ beta, T* __restrict__ y,
                                   float* __restrict__ mean, float* __restrict__ inv_std,
                                   int cols, float eps) {
    const long long offset = (long long)blockIdx.x * cols;
    Welford acc = {0.0f, 0.0f, 0.0f};
    for (int j = threadIdx.x; j < cols; j += blockDim.x) acc = welford_add(acc, to_float(x[offset + j]));
    acc = block_welford(acc);
    const float rstd = rsqrtf(acc.m2 / cols + eps);
    if (threadIdx.x == 0) {
        mean[blockIdx.x] = acc.mean;
        inv_std[blockIdx.x] = rstd;
    }
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float xhat = (to_float(x[offset + j]) - acc.mean) * rstd;
        y[offset + j] = from_float<T>(xhat * to_float(gamma[j]) + to_float(beta[j]));
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma.
template <typename T>
__global__ void layer_norm_backward(const T* __restrict__ dy, const T* __restrict__ x,
                                    const T* __restrict__ gamma, const float* __restrict__ mean,
                                    const float* __restrict__ inv_std, T* __restrict__ dx, int cols) {
    const long long offset = (long long)blockIdx.x * cols;
    const float mu = mean[blockIdx.x], rstd = inv_std[blockIdx.x];
    float sum_g = 0.0f, sum_g_xhat = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float g = to_float(dy[offset + j]) * to_float(gamma[j]);
        sum_g += g;
        sum_g_xhat += g * (to_float(x[offset + j]) - mu) * rstd;
    }
    const float2 sums = block_sum2(sum_g, sum_g_xhat);
    const float mean_g = sums.x / cols, mean_g_xhat = sums.y / cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float g = to_float(dy[offset + j]) * to_float(gamma[j]);
        float xhat = (to_float(x[offset + j]) - mu) * rstd;
        dx[offset + j] = from_float<T>(rstd * (g - mean_g - xhat * mean_g_xhat));
    }
}

// dgamma[j] += sum_r dy[r, j] * xhat[r, j]; dbeta[j] += sum_r dy[r, j]. Block (32, 8): 32
// columns by 8 row lanes; grid (ceil(cols / 32), row groups). The host zeroes dgamma and dbeta.
template <typename T>
__global__ void layer_norm_backward_params(const T* __restrict__ dy, const T* __restrict__ x,
                                           const float* __restrict__ mean, const float* __restrict__ inv_std,
                                           float* __restrict__ dgamma, float* __restrict__ dbeta,
                                           int rows, int cols) {
    __shared__ float part_gamma[8][33], part_beta[8][33];
    const int col = blockIdx.x * 32 + threadIdx.x;
    float acc_gamma = 0.0f, acc_beta = 0.0f;
    if (col < cols) {
        for (int r = blockIdx.y * blockDim.y + threadIdx.y; r < rows; r += gridDim.y * blockDim.y) {
            long long i = (long long)r * cols + col;
            float g = to_float(dy[i]);
            acc_gamma += g * (to_float(x[i]) - mean[r]) * inv_std[r];
            acc_beta += g;
        }
    }
    part_gamma[threadIdx.y][threadIdx.x] = acc_gamma;
    part_beta[threadIdx.y][threadIdx.x] = acc_beta;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        for (int k = 1; k < blockDim.y; ++k) {
            acc_gamma += part_gamma[k][threadIdx.x];
            acc_beta += part_beta[k][threadIdx.x];
        }
        atomicAdd(dgamma + col, acc_gamma);
        atomicAdd(dbeta + col, acc_beta);
    }
}

// ---- batch norm, NCHW viewed as (N, C, inner = H*W), float32 ----

// Batch statistics in two launches so that few channels still fill the GPU: blocks (c, split)
// reduce an interleaved share of channel c's N*inner elements to partials[c][split], then one
// thread per channel merges its partials. The (n, i) position advances by a fixed step, so the
// loops do no per-element division.

__device__ __forceinline__ void channel_position(long long m, int inner, long long* n, int* i) {
    *n = m / inner;
    *i = (int)(m - *n * inner);
}

// partials[(c * splits + split) * 3 + {0, 1, 2}] = Welford (count, mean, m2); grid (channels, splits).
extern "C" __global__ void batch_norm_partial_stats(const float* __restrict__ x, float* __restrict__ partials,
                                                    int batch, int channels, int inner) {
    const int c = blockIdx.x;
    const long long count = (long long)batch * inner, stride = (long long)gridDim.y * blockDim.x;
    const long long first = (long long)blockIdx.y * blockDim.x + threadIdx.x;
    long long n, step_n;
    int i, step_i;
    channel_position(first, inner, &n, &i);
    channel_position(stride, inner, &step_n, &step_i);
    Welford acc = {0.0f, 0.0f, 0.0f};
    for (long long m = first; m < count; m += stride) {
        acc = welford_add(acc, x[(n * channels + c) * inner + i]);
        n += step_n;
        i += step_i;
        if (i >= inner) {
            i -= inner;
            ++n;
        }
    }
    acc = block_welford(acc);
    if (threadIdx.x == 0) {
        float* out = partials + 3 * ((long long)c * gridDim.y + blockIdx.y);
        out[0] = acc.count;
        out[1] = acc.mean;
        out[2] = acc.m2;
    }
}

// One thread per channel: mean, inv_std and the running stats update
// running = running * momentum + batch * (1 - momentum), with the biased variance.
extern "C" __global__ void batch_norm_finalize_stats(const float* __restrict__ partials, float* __restrict__ mean,
                                                     float* __restrict__ inv_std, float* __restrict__ running_mean,
                                                     float* __restrict__ running_var, int channels, int splits,
                                                     float eps, float momentum) {
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += blockDim.x * gridDim.x) {
        Welford acc = {0.0f, 0.0f, 0.0f};
        for (int split = 0; split < splits; ++split) {
            const float* part = partials + 3 * ((long long)c * splits + split);
            acc = welford_merge(acc, Welford{part[0], part[1], part[2]});
        }
        const float var = acc.m2 / acc.count;
        mean[c] = acc.mean;
        inv_std[c] = rsqrtf(var + eps);
        running_mean[c] = running_mean[c] * momentum + acc.mean * (1.0f - momentum);
        running_var[c] = running_var[c] * momentum + var * (1.0f - momentum);
    }
}

// The elementwise batch-norm kernels run on a 2-D grid: blockIdx.y strides over the N*C planes
// (one modulo per plane gives the channel), x-threads stride over the plane's `inner` elements.

// y = (x - mean[c]) * inv_std[c] * gamma[c] + beta[c].
extern "C" __global__ void batch_norm_apply(const float* __restrict__ x, const float* __restrict__ mean,
                                            const float* __restrict__ inv_std, const float* __restrict__ gamma,
                                            const float* __restrict__ beta, float* __restrict__ y,
                                            long long planes, int channels, int inner) {
    for (long long plane = blockIdx.y; plane < planes; plane += gridDim.y) {
        const int c = (int)(plane % channels);
        const float scale = inv_std[c] * gamma[c], mu = mean[c], shift = beta[c];
        const long long base = plane * inner;
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < inner; i += blockDim.x * gridDim.x)
            y[base + i] = (x[base + i] - mu) * scale + shift;
    }
}

// partials[(c * splits + split) * 2 + {0, 1}] = (sum dy, sum dy * xhat); grid (channels, splits).
extern "C" __global__ void batch_norm_backward_partial(const float* __restrict__ dy, const float* __restrict__ x,
                                                       const float* __restrict__ mean,
                                                       const float* __restrict__ inv_std,
                                                       float* __restrict__ partials, int batch, int channels,
                                                       int inner) {
    const int c = blockIdx.x;
    const long long count = (long long)batch * inner, stride = (long long)gridDim.y * blockDim.x;
    const long long first = (long long)blockIdx.y * blockDim.x + threadIdx.x;
    const float mu = mean[c], rstd = inv_std[c];
    long long n, step_n;
    int i, step_i;
    channel_position(first, inner, &n, &i);
    channel_position(stride, inner, &step_n, &step_i);
    float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
    for (long long m = first; m < count; m += stride) {
        const long long at = (n * channels + c) * inner + i;
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * (x[at] - mu) * rstd;
        n += step_n;
        i += step_i;
        if (i >= inner) {
            i -= inner;
            ++n;
        }
    }
    const float2 sums = block_sum2(sum_dy, sum_dy_xhat);
    if (threadIdx.x == 0) {
        float* out = partials + 2 * ((long long)c * gridDim.y + blockIdx.y);
        out[0] = sums.x;
        out[1] = sums.y;
    }
}

// One thread per channel: dbeta[c] = sum(dy), dgamma[c] = sum(dy * xhat), in a fixed order.
extern "C" __global__ void batch_norm_backward_finalize(const float* __restrict__ partials,
                                                        float* __restrict__ dgamma, float* __restrict__ dbeta,
                                                        int channels, int splits) {
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < channels; c += blockDim.x * gridDim.x) {
        float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
        for (int split = 0; split < splits; ++split) {
            sum_dy += partials[2 * ((long long)c * splits + split)];
            sum_dy_xhat += partials[2 * ((long long)c * splits + split) + 1];
        }
        dbeta[c] = sum_dy;
        dgamma[c] = sum_dy_xhat;
    }
}

// Training: dx = gamma * inv_std * (dy - dbeta / M - xhat * dgamma / M), M = N * inner.
// With global (running) statistics the mean and inv_std are constants: dx = gamma * inv_std * dy.
extern "C" __global__ void batch_norm_backward_apply(const float* __restrict__ dy, const float* __restrict__ x,
                                                     const float* __restrict__ mean,
                                                     const float* __restrict__ inv_std,
                                                     const float* __restrict__ gamma,
                                                     const float* __restrict__ dgamma,
                                                     const float* __restrict__ dbeta, float* __restrict__ dx,
                                                     long long planes, int channels, int inner,
                                                     int use_global_stats) {
    const float inv_count = (float)channels / ((float)planes * (float)inner);
    for (long long plane = blockIdx.y; plane < planes; plane += gridDim.y) {
        const int c = (int)(plane % channels);
        const float scale = inv_std[c] * gamma[c], mu = mean[c], rstd = inv_std[c];
        const float mean_dy = use_global_stats ? 0.0f : dbeta[c] * inv_count;
        const float mean_dy_xhat = use_global_stats ? 0.0f : dgamma[c] * inv_count;
        const long long base = plane * inner;
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < inner; i += blockDim.x * gridDim.x) {
            const float xhat = (x[base + i] - mu) * rstd;
            dx[base + i] = scale * (dy[base + i] - mean_dy - xhat * mean_dy_xhat);
        }
    }
}
