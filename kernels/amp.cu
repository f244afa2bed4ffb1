// Mixed precision's overflow test: one launch checks every gradient of a device for inf/nan.
//
// Multi-tensor layout as in optimizer.cu: `tensors` holds device pointers (64-bit integers),
// `kinds` each tensor's storage type (0 float, 1 half, 2 bfloat16), `sizes` their lengths, and
// block b scans chunk block_chunk[b] of tensor block_tensor[b]. `finite` (one int, set to 1 by
// the host) is cleared when any element is not finite; every writer writes the same 0, so the
// race is harmless. A block stops reading once its chunk has shown one bad value.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ bool chunk_finite(const T* x, long long begin, long long end) {
    bool ok = true;
    for (long long i = begin + threadIdx.x; i < end && ok; i += blockDim.x) {
        ok = isfinite(to_float(x[i]));
    }
    return ok;
}

extern "C" __global__ void multi_all_finite(const unsigned long long* __restrict__ tensors,
                                            const int* __restrict__ kinds,
                                            const long long* __restrict__ sizes,
                                            const int* __restrict__ block_tensor,
                                            const int* __restrict__ block_chunk, long long chunk_size,
                                            int* finite) {
    const int t = block_tensor[blockIdx.x];
    const long long begin = block_chunk[blockIdx.x] * chunk_size;
    const long long end = min(begin + chunk_size, sizes[t]);
    bool ok;
    if (kinds[t] == 0) {
        ok = chunk_finite(reinterpret_cast<const float*>(tensors[t]), begin, end);
    } else if (kinds[t] == 1) {
        ok = chunk_finite(reinterpret_cast<const __half*>(tensors[t]), begin, end);
    } else {
        ok = chunk_finite(reinterpret_cast<const __nv_bfloat16*>(tensors[t]), begin, end);
    }
    if (!ok) *finite = 0;
}
