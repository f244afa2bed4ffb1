// What every kernel file shares: storage-type conversions (kernels keep float16/bfloat16 in
// memory and compute in float) and the full warp mask for shuffles. Included as
// #include "common.cuh"; mxlite.cuda.loader inlines it before NVRTC sees the source.
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define MXLITE_FULL_MASK 0xffffffffu

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16(v);
}
