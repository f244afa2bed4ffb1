// Backward of embedding (a row gather) and of pick (a gather along one axis).
//
// embedding_backward: dweight[indices[m], :] += dy[m, :], one thread per element of dy, with
// atomicAdd because indices repeat. dweight is float32 and zeroed by the host; dy may be float,
// half or bfloat16. Indices are clipped to [0, num_rows - 1] (MXNet's take mode 'clip').
//
// pick_backward: x viewed as (outer, axis_size, inner), index as (outer, inner); each index
// selects exactly one position, so dx[o, index[o, i], i] = dy[o, i] needs no atomics (dx zeroed
// by the host). mode_wrap = 0 clips indices to the axis, 1 wraps them (MXNet's pick modes).
//
// mxlite-name-expressions: embedding_backward<float>, embedding_backward<__half>, embedding_backward<__nv_bfloat16>, pick_backward<float>, pick_backward<__half>, pick_backward<__nv_bfloat16>
#include "common.cuh"

template <typename T>
__global__ void embedding_backward(const int* __restrict__ indices, const T* __restrict__ dy,
                                   float* __restrict__ dweight, long long n, int dim, int num_rows) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        const long long m = i / dim;
        const int row = min(max(indices[m], 0), num_rows - 1);
        atomicAdd(dweight + (long long)row * dim + (i - m * dim), to_float(dy[i]));
    }
}

template <typename T>
__global__ void pick_backward(const int* __restrict__ index, const T* __restrict__ dy, T* __restrict__ dx,
                              long long n, int axis_size, int inner, int mode_wrap) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {
        int k = index[i];
        if (mode_wrap) {
            k %= axis_size;
            if (k < 0) k += axis_size;
        } else {
            k = min(max(k, 0), axis_size - 1);
        }
        const long long o = i / inner;
        dx[(o * axis_size + k) * inner + (i - o * inner)] = dy[i];
    }
}
