// Stand-in for <cuda.h> under mxlite.testing.cudasim: the built-ins live in cuda_sim.h.
#pragma once
#include "cuda_sim.h"
