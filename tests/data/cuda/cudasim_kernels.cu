// Kernels exercising mxlite.testing.cudasim (tests/test_cudasim.py); each mirrors a
// pattern the real kernels in kernels/*.cu use.
#include <cuda_fp16.h>
#include <cuda_bf16.h>

// mxlite-name-expressions: scale_cast<float>, scale_cast<__half>, scale_cast<__nv_bfloat16>
// mxlite-name-expressions: widen<__half>, widen<__nv_bfloat16>

extern "C" __global__ void axpy_grid_stride(const float* __restrict__ x, float* __restrict__ y, float a, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] += a * x[i];
}

// One partial sum per block by a shared-memory tree; blockDim.x must be 256.
extern "C" __global__ void __launch_bounds__(256) block_sums(const float* x, float* partial, int n) {
  __shared__ float buffer[256];
  int t = threadIdx.x;
  int i = blockIdx.x * blockDim.x + t;
  buffer[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (t < stride) buffer[t] += buffer[t + stride];
    __syncthreads();
  }
  if (t == 0) partial[blockIdx.x] = buffer[0];
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Row sums of a (rows, cols) matrix, one warp per row, blocks of (32, warps).
extern "C" __global__ void row_sums_warp(const float* x, float* out, int rows, int cols) {
  int row = blockIdx.x * blockDim.y + threadIdx.y;
  if (row >= rows) return;
  float v = 0.0f;
  for (int c = threadIdx.x; c < cols; c += 32) v += x[row * cols + c];
  v = warp_sum(v);
  if (threadIdx.x == 0) out[row] = v;
}

// Per-lane results of the other shuffles and votes, for one warp of 32 threads.
extern "C" __global__ void warp_ops(const int* x, int* down, int* up, int* broadcast, unsigned int* ballot) {
  int lane = threadIdx.x;
  int v = x[lane];
  down[lane] = __shfl_down_sync(0xffffffffu, v, 3);
  up[lane] = __shfl_up_sync(0xffffffffu, v, 5, 16);
  broadcast[lane] = __shfl_sync(0xffffffffu, v, 7);
  ballot[lane] = __ballot_sync(0xffffffffu, v > 10);
}

// Histogram plus maximum and a compare-and-swap counter.
extern "C" __global__ void histogram_atomics(const int* values, int n, int* counts, int* maximum,
                                             unsigned long long* total, float* float_total) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(&counts[values[i]], 1);
  atomicMax(maximum, values[i]);
  atomicAdd(total, static_cast<unsigned long long>(values[i]));
  atomicAdd(float_total, 0.5f);
}

template <typename T>
__global__ void scale_cast(const float* x, T* y, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = static_cast<T>(a * x[i]);
}

template <typename T>
__global__ void widen(const T* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = static_cast<float>(x[i]);
}

// Reverses each block's slice through dynamic shared memory.
extern "C" __global__ void reverse_blocks(const float* x, float* y, int n) {
  extern __shared__ __align__(16) unsigned char shared_raw[];
  float* buffer = reinterpret_cast<float*>(shared_raw);
  int t = threadIdx.x;
  int i = blockIdx.x * blockDim.x + t;
  buffer[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  int j = blockIdx.x * blockDim.x + (blockDim.x - 1 - t);
  if (j < n) y[j] = buffer[t];
}

// 16-byte vectorised copy with scaling; n4 = n / 4.
extern "C" __global__ void scale_float4(const float* __restrict__ x, float* __restrict__ y, float a, int n4) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n4) return;
  float4 v = reinterpret_cast<const float4*>(x)[i];
  reinterpret_cast<float4*>(y)[i] = make_float4(a * v.x, a * v.y, a * v.z, a * v.w);
}

// Half a warp waits in __syncthreads while the other half waits for it in a full-mask
// shuffle: a hang on the GPU.
extern "C" __global__ void mismatched_barriers(float* x) {
  if (threadIdx.x < 16) __syncthreads();
  else x[threadIdx.x] = __shfl_sync(0xffffffffu, 1.0f, 0);
}

// Writes one element past the end: what AddressSanitizer must catch.
extern "C" __global__ void write_past_end(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) x[i] = 1.0f;
}
