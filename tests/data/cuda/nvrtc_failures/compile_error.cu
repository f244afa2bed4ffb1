// Must fail the NVRTC check: an undeclared identifier.
extern "C" __global__ void undeclared(float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = not_declared_anywhere;
}
