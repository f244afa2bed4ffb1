// Must fail the NVRTC check: NVRTC has no C++ standard library (g++ would accept this).
#include <cstdint>
extern "C" __global__ void fill(uint64_t* y) { y[threadIdx.x] = threadIdx.x; }
