// Softmax and log-softmax over the last axis, their backward, and softmax cross-entropy with
// sparse labels (loss and d loss / d logits in one pass per row).
//
// Two launch shapes, chosen on the host from the row length:
//   warp per row  (short rows): block (32, rows_per_block); row = blockIdx.x * blockDim.y + threadIdx.y,
//                 reductions are warp shuffles only;
//   block per row (long rows):  block (32k, 1); row = blockIdx.x, warp shuffles then one
//                 shared-memory step across warps.
// Each thread keeps an online (max, sum of exp(x - max)) pair over its strided elements, so the
// forward reads the row twice (reduce, then write) instead of three times. Math in float for
// every storage type.
//
// mxlite-name-expressions: softmax_forward<float>, softmax_forward<__half>, softmax_forward<__nv_bfloat16>, softmax_backward<float>, softmax_backward<__half>, softmax_backward<__nv_bfloat16>, softmax_cross_entropy<float>, softmax_cross_entropy<__half>, softmax_cross_entropy<__nv_bfloat16>
#include "common.cuh"

#define MXLITE_NEG_INF __int_as_float(0xff800000)

struct MaxSum {
    float max;
    float sum;  // sum of exp(x - max)
};

__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
    float m = fmaxf(a.max, b.max);
    if (m == MXLITE_NEG_INF) return a;  // both empty (or all -inf): nothing to rescale
    return {m, a.sum * expf(a.max - m) + b.sum * expf(b.max - m)};
}

// Reduces over the threads of one row (a warp, or the whole block); every one gets the result.
__device__ __forceinline__ MaxSum row_reduce_max_sum(MaxSum v) {
    __shared__ float shared_max[32];
    __shared__ float shared_sum[32];
    for (int offset = 16; offset > 0; offset >>= 1) {
        MaxSum other = {__shfl_xor_sync(MXLITE_FULL_MASK, v.max, offset),
                        __shfl_xor_sync(MXLITE_FULL_MASK, v.sum, offset)};
        v = merge(v, other);
    }
    if (blockDim.x == 32) return v;  // warp per row (uniform over the block: no barrier skipped)
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) {
        shared_max[warp] = v.max;
        shared_sum[warp] = v.sum;
    }
    __syncthreads();
    v = lane < warps ? MaxSum{shared_max[lane], shared_sum[lane]} : MaxSum{MXLITE_NEG_INF, 0.0f};
    for (int offset = 16; offset > 0; offset >>= 1) {
        MaxSum other = {__shfl_xor_sync(MXLITE_FULL_MASK, v.max, offset),
                        __shfl_xor_sync(MXLITE_FULL_MASK, v.sum, offset)};
        v = merge(v, other);
    }
    return v;  // every thread holds the row's result
}

__device__ __forceinline__ float row_reduce_sum(float v) {
    __shared__ float shared[32];
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(MXLITE_FULL_MASK, v, offset);
    if (blockDim.x == 32) return v;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(MXLITE_FULL_MASK, v, offset);
    return v;
}

template <typename T>
__device__ __forceinline__ MaxSum row_max_sum(const T* row, int cols) {
    MaxSum acc = {MXLITE_NEG_INF, 0.0f};
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = to_float(row[j]);
        if (v > acc.max) {
            acc.sum = acc.sum * expf(acc.max - v) + 1.0f;
            acc.max = v;
        } else if (v != MXLITE_NEG_INF) {
            acc.sum += expf(v - acc.max);
        }
    }
    return row_reduce_max_sum(acc);
}

// The row this thread works on; rows past the end belong to whole warps, which return together.
__device__ __forceinline__ long long this_row() { return (long long)blockIdx.x * blockDim.y + threadIdx.y; }

// y = softmax(x) or log_softmax(x) along rows of length `cols`.
template <typename T>
__global__ void softmax_forward(const T* __restrict__ x, T* __restrict__ y, long long rows, int cols,
                                int log_softmax) {
    const long long r = this_row();
    if (r >= rows) return;
    const long long offset = r * cols;
    const T* row = x + offset;
    MaxSum stats = row_max_sum(row, cols);
    if (log_softmax) {
        const float shift = stats.max + logf(stats.sum);
        for (int j = threadIdx.x; j < cols; j += blockDim.x) y[offset + j] = from_float<T>(to_float(row[j]) - shift);
    } else {
        const float inv_sum = 1.0f / stats.sum;
        for (int j = threadIdx.x; j < cols; j += blockDim.x)
            y[offset + j] = from_float<T>(expf(to_float(row[j]) - stats.max) * inv_sum);
    }
}

// softmax:     dx = y * (dy - sum(dy * y))
// log_softmax: dx = dy - exp(y) * sum(dy)
template <typename T>
__global__ void softmax_backward(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx,
                                 long long rows, int cols, int log_softmax) {
    const long long r = this_row();
    if (r >= rows) return;
    const long long offset = r * cols;
    float partial = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float g = to_float(dy[offset + j]);
        partial += log_softmax ? g : g * to_float(y[offset + j]);
    }
    const float total = row_reduce_sum(partial);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float g = to_float(dy[offset + j]), out = to_float(y[offset + j]);
        dx[offset + j] = from_float<T>(log_softmax ? g - expf(out) * total : out * (g - total));
    }
}

// loss[r] = logsumexp(x[r]) - x[r, label[r]]; dlogits[r] = softmax(x[r]) - onehot(label[r]).
// Labels are clipped to [0, cols - 1], as MXNet's pick(mode='clip') does.
template <typename T>
__global__ void softmax_cross_entropy(const T* __restrict__ logits, const int* __restrict__ labels,
                                      T* __restrict__ loss, T* __restrict__ dlogits, long long rows, int cols) {
    const long long r = this_row();
    if (r >= rows) return;
    const long long offset = r * cols;
    const T* row = logits + offset;
    MaxSum stats = row_max_sum(row, cols);
    const int label = min(max(labels[r], 0), cols - 1);
    const float inv_sum = 1.0f / stats.sum;
    if (threadIdx.x == 0)
        loss[r] = from_float<T>(stats.max + logf(stats.sum) - to_float(row[label]));
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float p = expf(to_float(row[j]) - stats.max) * inv_sum;
        dlogits[offset + j] = from_float<T>(j == label ? p - 1.0f : p);
    }
}
