// 2-D convolution helpers (im2col, col2im) and 2-D max/avg pooling, NCHW.
//
// Convolution runs as im2col + a batched matmul through cuBLAS:
//   cols (N, C*KH*KW, OH*OW) = im2col(x);  y (N, O, OH*OW) = W (O, C*KH*KW) @ cols
// and its backward as dcols = W^T @ dy, dx = col2im(dcols), dW = sum_n dy @ cols^T.
// col2im is a gather (one thread per input element summing the columns that read it), so it
// needs no atomics and is deterministic. Output sizes follow MXNet's 'valid' convention:
// OH = (H + 2*pad_h - dil_h*(KH-1) - 1) / stride_h + 1, computed on the host.
//
// Every kernel runs on a 2-D grid: blockIdx.y strides over planes (rows of the column matrix for
// im2col, N*C image planes otherwise; the plane's coordinates cost one division chain per plane)
// and x-threads stride over the positions inside a plane (one 32-bit division per element).
//
// im2col/col2im are templated on the storage type (col2im accumulates in float). Pooling is
// float32: max pooling saves the argmax (index within the H*W plane, first maximum wins) and its
// backward scatters dy there with atomicAdd into a zeroed dx; avg pooling's backward is a gather.
//
// mxlite-name-expressions: im2col<float>, im2col<__half>, im2col<__nv_bfloat16>, col2im<float>, col2im<__half>, col2im<__nv_bfloat16>, max_pool2d_forward<float>, max_pool2d_forward<__half>, max_pool2d_forward<__nv_bfloat16>, max_pool2d_backward<float>, max_pool2d_backward<__half>, max_pool2d_backward<__nv_bfloat16>, avg_pool2d_forward<float>, avg_pool2d_forward<__half>, avg_pool2d_forward<__nv_bfloat16>, avg_pool2d_backward<float>, avg_pool2d_backward<__half>, avg_pool2d_backward<__nv_bfloat16>
#include "common.cuh"

#define MXLITE_PLANES(plane, planes) for (long long plane = blockIdx.y; plane < (planes); plane += gridDim.y)
#define MXLITE_POSITIONS(p, positions) \
    for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < (positions); p += blockDim.x * gridDim.x)

// Planes are the N*C*KH*KW rows of cols; positions are its OH*OW columns.
template <typename T>
__global__ void im2col(const T* __restrict__ x, T* __restrict__ cols, int batch, int channels,
                       int height, int width, int kernel_h, int kernel_w, int out_h, int out_w,
                       int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    const long long rows = (long long)batch * channels * kernel_h * kernel_w;
    const int positions = out_h * out_w;
    MXLITE_PLANES(row, rows) {
        const int kw = (int)(row % kernel_w);
        const int kh = (int)((row / kernel_w) % kernel_h);
        const T* image = x + row / (kernel_h * kernel_w) * height * width;  // plane n * channels + c
        T* out = cols + row * positions;
        MXLITE_POSITIONS(p, positions) {
            const int oh = p / out_w, ow = p - oh * out_w;
            const int h = oh * stride_h - pad_h + kh * dil_h;
            const int w = ow * stride_w - pad_w + kw * dil_w;
            const bool inside = h >= 0 && h < height && w >= 0 && w < width;
            out[p] = inside ? image[h * width + w] : from_float<T>(0.0f);
        }
    }
}

// dx[n, c, h, w] = sum of the column entries im2col copied it to; planes are N*C, positions H*W.
template <typename T>
__global__ void col2im(const T* __restrict__ cols, T* __restrict__ dx, int batch, int channels,
                       int height, int width, int kernel_h, int kernel_w, int out_h, int out_w,
                       int stride_h, int stride_w, int pad_h, int pad_w, int dil_h, int dil_w) {
    const long long planes = (long long)batch * channels;
    const int positions = height * width;
    MXLITE_PLANES(plane, planes) {
        const T* plane_cols = cols + plane * kernel_h * kernel_w * out_h * out_w;
        MXLITE_POSITIONS(p, positions) {
            const int h = p / width, w = p - h * width;
            float acc = 0.0f;
            for (int kh = 0; kh < kernel_h; ++kh) {
                const int hs = h + pad_h - kh * dil_h;
                if (hs < 0 || hs % stride_h != 0 || hs / stride_h >= out_h) continue;
                const int oh = hs / stride_h;
                for (int kw = 0; kw < kernel_w; ++kw) {
                    const int ws = w + pad_w - kw * dil_w;
                    if (ws < 0 || ws % stride_w != 0 || ws / stride_w >= out_w) continue;
                    acc += to_float(plane_cols[((kh * kernel_w + kw) * out_h + oh) * out_w + ws / stride_w]);
                }
            }
            dx[plane * positions + p] = from_float<T>(acc);
        }
    }
}

// Planes are N*C; positions the out_h*out_w outputs. Pooling reads and writes T (float, half,
// bfloat16) and compares and sums in float.
template <typename T>
__global__ void max_pool2d_forward(const T* __restrict__ x, T* __restrict__ y,
                                              int* __restrict__ argmax, long long planes, int height,
                                              int width, int kernel_h, int kernel_w, int out_h, int out_w,
                                              int stride_h, int stride_w, int pad_h, int pad_w) {
    MXLITE_PLANES(plane, planes) {
        const T* image = x + plane * height * width;
        MXLITE_POSITIONS(p, out_h * out_w) {
            const int oh = p / out_w, ow = p - oh * out_w;
            const int h0 = oh * stride_h - pad_h, w0 = ow * stride_w - pad_w;
            float best = 0.0f;
            int best_at = -1;
            for (int h = max(h0, 0); h < min(h0 + kernel_h, height); ++h)
                for (int w = max(w0, 0); w < min(w0 + kernel_w, width); ++w) {
                    float v = to_float(image[h * width + w]);
                    if (best_at < 0 || (best == best && (v > best || v != v))) {  // the first NaN wins
                        best = v;
                        best_at = h * width + w;
                    }
                }
            y[plane * out_h * out_w + p] = from_float<T>(best);
            argmax[plane * out_h * out_w + p] = best_at;
        }
    }
}

// dx (float32 whatever dy's T) must be zeroed; windows overlap when stride < kernel, hence atomicAdd.
template <typename T>
__global__ void max_pool2d_backward(const T* __restrict__ dy, const int* __restrict__ argmax,
                                               float* __restrict__ dx, long long planes, int height,
                                               int width, int out_h, int out_w) {
    MXLITE_PLANES(plane, planes) {
        MXLITE_POSITIONS(p, out_h * out_w) {
            const long long out = plane * out_h * out_w + p;
            const int at = argmax[out];
            if (at >= 0) atomicAdd(dx + plane * height * width + at, to_float(dy[out]));
        }
    }
}

// Window [start, start + kernel) clipped to the padded input gives the count when padding counts
// (MXNet/PyTorch convention); clipped to the real input otherwise.
__device__ __forceinline__ int pool_count(int start, int kernel, int size, int pad, int include_pad) {
    const int end_padded = min(start + kernel, size + pad);
    if (include_pad) return end_padded - start;
    return min(end_padded, size) - max(start, 0);
}

template <typename T>
__global__ void avg_pool2d_forward(const T* __restrict__ x, T* __restrict__ y,
                                              long long planes, int height, int width, int kernel_h,
                                              int kernel_w, int out_h, int out_w, int stride_h, int stride_w,
                                              int pad_h, int pad_w, int count_include_pad) {
    MXLITE_PLANES(plane, planes) {
        const T* image = x + plane * height * width;
        MXLITE_POSITIONS(p, out_h * out_w) {
            const int oh = p / out_w, ow = p - oh * out_w;
            const int h0 = oh * stride_h - pad_h, w0 = ow * stride_w - pad_w;
            float acc = 0.0f;
            for (int h = max(h0, 0); h < min(h0 + kernel_h, height); ++h)
                for (int w = max(w0, 0); w < min(w0 + kernel_w, width); ++w) acc += to_float(image[h * width + w]);
            const int count = pool_count(h0, kernel_h, height, pad_h, count_include_pad)
                            * pool_count(w0, kernel_w, width, pad_w, count_include_pad);
            y[plane * out_h * out_w + p] = from_float<T>(acc / (float)count);
        }
    }
}

// A gather: each input element sums dy / count over the windows that cover it. Positions are H*W.
template <typename T>
__global__ void avg_pool2d_backward(const T* __restrict__ dy, T* __restrict__ dx,
                                               long long planes, int height, int width, int kernel_h,
                                               int kernel_w, int out_h, int out_w, int stride_h, int stride_w,
                                               int pad_h, int pad_w, int count_include_pad) {
    MXLITE_PLANES(plane, planes) {
        const T* grad = dy + plane * out_h * out_w;
        MXLITE_POSITIONS(p, height * width) {
            const int h = p / width, w = p - h * width;
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
                    acc += to_float(grad[oh * out_w + ow]) / (float)(count_h * count_w);
                }
            }
            dx[plane * height * width + p] = from_float<T>(acc);
        }
    }
}
