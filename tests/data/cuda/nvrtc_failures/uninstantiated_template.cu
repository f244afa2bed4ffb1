// Must fail the NVRTC check: a template kernel with no name expression compiles to nothing.
template <typename T>
__global__ void scale(T* y, T a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] *= a;
}
