// Must fail the NVRTC check: 96 live accumulators under a 32-register limit spill.
extern "C" __global__ void __launch_bounds__(1024, 2) many_live_values(const float* x, float* y) {
  float acc[96];
#pragma unroll
  for (int i = 0; i < 96; ++i) acc[i] = x[threadIdx.x + i * 1024];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int i = 0; i < 96; ++i) acc[i] = acc[i] * acc[(i * 7 + r + 1) % 96] + x[i];
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < 96; ++i) s += acc[i] * (i + 1);
  y[threadIdx.x] = s;
}
