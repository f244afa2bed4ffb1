// 2-D convolution helpers (im2col, col2im) and 2-D max/avg pooling, NCHW.
//
// Convolution runs as im2col + a batched matmul through cuBLAS:
//   cols (N, C*KH*KW, OH*OW) = im2col(x);  y (N, O, OH*OW) = W (O, C*KH*KW) @ cols
// and its backward as dcols = W^T @ dy, dx = col2im(dcols), dW = sum_n dy @ cols^T.
// col2im is a gather (one thread per input element summing the columns that read it), so it
// needs no atomics and is deterministic. Output sizes follow MXNet's 'valid' convention:
// OH = (H + 2*pad_h - dil_h*(KH-1) - 1) / stride_h + 1, computed on the host.
//
// im2col/col2im are templated on the storage type (col2im accumulates in float). Pooling is
// float32: max pooling saves the argmax (index within the H*W plane, first maximum wins) and its
// backward scatters dy there with atomicAdd into a zeroed dx; avg pooling's backward is a gather.
//
// mxlite-name-expressions: im2col<float>, im2col<__half>, col2im<float>, col2im<__half>
#include <cuda_fp16.h>

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half(v); }

#define MXLITE_GRID_STRIDE(i, n)                                                  \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// One thread per column element; consecutive threads write consecutive output positions.
template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ cols, int batch, int channels,
                       int height, int width, int kernel_h, int kernel_w, int out_h, int out_w,
                       int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    const long long n_cols = (long long)batch * channels * kernel_h * kernel_w * out_h * out_w;
    MXLITE_GRID_STRIDE(idx, n_cols) {
        long long t = idx;
        const int ow = (int)(t % out_w); t /= out_w;
        const int oh = (int)(t % out_h); t /= out_h;
        const int kw = (int)(t % kernel_w); t /= kernel_w;
        const int kh = (int)(t % kernel_h); t /= kernel_h;  // t = n * channels + c
        const int h = oh * stride_h - pad_h + kh * dil_h;
        const int w = ow * stride_w - pad_w + kw * dil_w;
        const bool inside = h >= 0 && h < height && w >= 0 && w < width;
        cols[idx] = inside ? x[(t * height + h) * width + w] : from_float<T>(0.0f);
    }
}

// One thread per input element: dx[n, c, h, w] = sum of the column entries im2col copied it to.
template <typename T>
__global__ void col2im(const T* __restrict__ cols, T* __restrict__ dx, int batch, int channels,
                       int height, int width, int kernel_h, int kernel_w, int out_h, int out_w,
                       int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    const long long n_in = (long long)batch * channels * height * width;
    MXLITE_GRID_STRIDE(idx, n_in) {
        const int w = (int)(idx % width);
        const int h = (int)((idx / width) % height);
        const long long plane = idx / ((long long)height * width);  // n * channels + c
        float acc = 0.0f;
        for (int kh = 0; kh < kernel_h; ++kh) {
            const int hs = h + pad_h - kh * dil_h;
            if (hs < 0 || hs % stride_h != 0 || hs / stride_h >= out_h) continue;
            const int oh = hs / stride_h;
            for (int kw = 0; kw < kernel_w; ++kw) {
                const int ws = w + pad_w - kw * dil_w;
                if (ws < 0 || ws % stride_w != 0 || ws / stride_w >= out_w) continue;
                const long long row = (plane * kernel_h + kh) * kernel_w + kw;
                acc += to_float(cols[(row * out_h + oh) * out_w + ws / stride_w]);
            }
        }
        dx[idx] = from_float<T>(acc);
    }
}

// One thread per output element of (planes = N*C, out_h, out_w).
extern "C" __global__ void max_pool2d_forward(const float* __restrict__ x, float* __restrict__ y,
                                              int* __restrict__ argmax, long long planes, int height,
                                              int width, int kernel_h, int kernel_w, int out_h, int out_w,
                                              int stride_h, int stride_w, int pad_h, int pad_w) {
    MXLITE_GRID_STRIDE(idx, planes * out_h * out_w) {
        const int ow = (int)(idx % out_w);
        const int oh = (int)((idx / out_w) % out_h);
        const float* plane = x + (idx / ((long long)out_h * out_w)) * height * width;
        const int h0 = oh * stride_h - pad_h, w0 = ow * stride_w - pad_w;
        float best = 0.0f;
        int best_at = -1;
        for (int h = max(h0, 0); h < min(h0 + kernel_h, height); ++h)
            for (int w = max(w0, 0); w < min(w0 + kernel_w, width); ++w) {
                float v = plane[h * width + w];
                if (best_at < 0 || (best == best && (v > best || v != v))) {  // the first NaN wins
                    best = v;
                    best_at = h * width + w;
                }
            }
        y[idx] = best;
        argmax[idx] = best_at;
    }
}

// dx must be zeroed; windows overlap when stride < kernel, hence atomicAdd.
extern "C" __global__ void max_pool2d_backward(const float* __restrict__ dy, const int* __restrict__ argmax,
                                               float* __restrict__ dx, long long planes, int height,
                                               int width, int out_h, int out_w) {
    MXLITE_GRID_STRIDE(idx, planes * out_h * out_w) {
        const int at = argmax[idx];
        if (at >= 0) atomicAdd(dx + (idx / ((long long)out_h * out_w)) * height * width + at, dy[idx]);
    }
}

// Window [start, start + kernel) clipped to the padded input gives the count when padding counts
// (MXNet/PyTorch convention); clipped to the real input otherwise.
__device__ __forceinline__ int pool_count(int start, int kernel, int size, int pad, int include_pad) {
    const int end_padded = min(start + kernel, size + pad);
    if (include_pad) return end_padded - start;
    return min(end_padded, size) - max(start, 0);
}

extern "C" __global__ void avg_pool2d_forward(const float* __restrict__ x, float* __restrict__ y,
                                              long long planes, int height, int width, int kernel_h,
                                              int kernel_w, int out_h, int out_w, int stride_h, int stride_w,
                                              int pad_h, int pad_w, int count_include_pad) {
    MXLITE_GRID_STRIDE(idx, planes * out_h * out_w) {
        const int ow = (int)(idx % out_w);
        const int oh = (int)((idx / out_w) % out_h);
        const float* plane = x + (idx / ((long long)out_h * out_w)) * height * width;
        const int h0 = oh * stride_h - pad_h, w0 = ow * stride_w - pad_w;
        float acc = 0.0f;
        for (int h = max(h0, 0); h < min(h0 + kernel_h, height); ++h)
            for (int w = max(w0, 0); w < min(w0 + kernel_w, width); ++w) acc += plane[h * width + w];
        const int count = pool_count(h0, kernel_h, height, pad_h, count_include_pad)
                        * pool_count(w0, kernel_w, width, pad_w, count_include_pad);
        y[idx] = acc / (float)count;
    }
}

// One thread per input element, gathering dy / count from every window that covers it.
extern "C" __global__ void avg_pool2d_backward(const float* __restrict__ dy, float* __restrict__ dx,
                                               long long planes, int height, int width, int kernel_h,
                                               int kernel_w, int out_h, int out_w, int stride_h, int stride_w,
                                               int pad_h, int pad_w, int count_include_pad) {
    MXLITE_GRID_STRIDE(idx, planes * height * width) {
        const int w = (int)(idx % width);
        const int h = (int)((idx / width) % height);
        const float* grad = dy + (idx / ((long long)height * width)) * out_h * out_w;
        // Windows covering h: oh * stride_h - pad_h <= h < oh * stride_h - pad_h + kernel_h.
        const int oh_begin = max(0, (h + pad_h - kernel_h + stride_h) / stride_h);
        const int oh_end = min(out_h, (h + pad_h) / stride_h + 1);
        const int ow_begin = max(0, (w + pad_w - kernel_w + stride_w) / stride_w);
        const int ow_end = min(out_w, (w + pad_w) / stride_w + 1);
        float acc = 0.0f;
        for (int oh = oh_begin; oh < oh_end; ++oh) {
            const int count_h = pool_count(oh * stride_h - pad_h, kernel_h, height, pad_h, count_include_pad);
            for (int ow = ow_begin; ow < ow_end; ++ow) {
                const int count_w = pool_count(ow * stride_w - pad_w, kernel_w, width, pad_w, count_include_pad);
                acc += grad[oh * out_w + ow] / (float)(count_h * count_w);
            }
        }
        dx[idx] = acc;
    }
}
