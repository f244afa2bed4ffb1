// __half for mxlite.testing.cudasim: storage, round-to-nearest-even conversions and
// arithmetic through float (each operation rounds once, as on the GPU).
#pragma once
#include "cuda_sim.h"

namespace cudasim {
namespace detail {
inline unsigned short float_to_half_bits(float value) {
  unsigned int bits;
  std::memcpy(&bits, &value, sizeof bits);
  unsigned int sign = (bits >> 16) & 0x8000u;
  unsigned int magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) return static_cast<unsigned short>(sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (magnitude >= 0x477ff000u) return static_cast<unsigned short>(sign | 0x7c00u);  // rounds past 65504
  if (magnitude < 0x38800000u) {  // below the smallest normal half: a multiple of 2^-24
    float scaled;
    std::memcpy(&scaled, &magnitude, sizeof scaled);
    return static_cast<unsigned short>(sign | static_cast<unsigned int>(nearbyintf(scaled * 16777216.0f)));
  }
  unsigned int half = ((((magnitude >> 23) - 112u) << 10) | ((magnitude >> 13) & 0x3ffu));
  unsigned int rest = magnitude & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<unsigned short>(sign | half);
}

inline float half_bits_to_float(unsigned short half) {
  unsigned int sign = (half & 0x8000u) << 16;
  unsigned int exponent = (half >> 10) & 0x1fu;
  unsigned int mantissa = half & 0x3ffu;
  if (exponent == 0) {
    float value = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -value : value;
  }
  unsigned int bits = sign | (exponent == 31 ? 0x7f800000u | (mantissa << 13) : ((exponent + 112u) << 23) | (mantissa << 13));
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
}  // namespace detail
}  // namespace cudasim

struct __half_raw {
  unsigned short x;
};

struct alignas(2) __half {
  unsigned short __x;
  __half() = default;
  constexpr __half(__half_raw raw) : __x(raw.x) {}
  __half(float v) : __x(::cudasim::detail::float_to_half_bits(v)) {}
  __half(double v) : __half(static_cast<float>(v)) {}
  __half(short v) : __half(static_cast<float>(v)) {}
  __half(unsigned short v) : __half(static_cast<float>(v)) {}
  __half(int v) : __half(static_cast<float>(v)) {}
  __half(unsigned int v) : __half(static_cast<float>(v)) {}
  __half(long v) : __half(static_cast<float>(v)) {}
  __half(unsigned long v) : __half(static_cast<float>(v)) {}
  __half(long long v) : __half(static_cast<float>(v)) {}
  __half(unsigned long long v) : __half(static_cast<float>(v)) {}
  operator float() const { return ::cudasim::detail::half_bits_to_float(__x); }
  operator __half_raw() const { return __half_raw{__x}; }
};
typedef __half half;

struct alignas(4) __half2 {
  __half x, y;
};
typedef __half2 half2;

inline __half __float2half(float v) { return __half(v); }
inline __half __float2half_rn(float v) { return __half(v); }
inline __half __double2half(double v) { return __half(v); }
inline float __half2float(__half h) { return static_cast<float>(h); }
inline __half __int2half_rn(int v) { return __half(v); }
inline int __half2int_rn(__half h) { return static_cast<int>(nearbyintf(static_cast<float>(h))); }
inline int __half2int_rz(__half h) { return static_cast<int>(static_cast<float>(h)); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __ushort_as_half(unsigned short v) { return __half(__half_raw{v}); }
inline __half __short_as_half(short v) { return __half(__half_raw{static_cast<unsigned short>(v)}); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__half(a), __half(b)}; }
inline __half2 __float2half2_rn(float a) { return __half2{__half(a), __half(a)}; }
inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
inline __half2 __half2half2(__half a) { return __half2{a, a}; }
inline float2 __half22float2(__half2 h) { return float2{static_cast<float>(h.x), static_cast<float>(h.y)}; }
inline float __low2float(__half2 h) { return static_cast<float>(h.x); }
inline float __high2float(__half2 h) { return static_cast<float>(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }

#define CUDASIM_HALF_BINARY(op)                                                                        \
  inline __half operator op(const __half& a, const __half& b) {                                        \
    return __half(static_cast<float>(a) op static_cast<float>(b));                                     \
  }                                                                                                    \
  inline __half& operator op##=(__half& a, const __half& b) { return a = a op b; }
CUDASIM_HALF_BINARY(+)
CUDASIM_HALF_BINARY(-)
CUDASIM_HALF_BINARY(*)
CUDASIM_HALF_BINARY(/)
#undef CUDASIM_HALF_BINARY
#define CUDASIM_HALF_COMPARE(op) \
  inline bool operator op(const __half& a, const __half& b) { return static_cast<float>(a) op static_cast<float>(b); }
CUDASIM_HALF_COMPARE(==)
CUDASIM_HALF_COMPARE(!=)
CUDASIM_HALF_COMPARE(<)
CUDASIM_HALF_COMPARE(>)
CUDASIM_HALF_COMPARE(<=)
CUDASIM_HALF_COMPARE(>=)
#undef CUDASIM_HALF_COMPARE
inline __half operator-(const __half& a) { return __half(__half_raw{static_cast<unsigned short>(a.__x ^ 0x8000u)}); }
inline __half operator+(const __half& a) { return a; }

inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hneg(__half a) { return -a; }
inline __half __habs(__half a) { return __half(__half_raw{static_cast<unsigned short>(a.__x & 0x7fffu)}); }
inline __half __hfma(__half a, __half b, __half c) {
  return __half(fmaf(static_cast<float>(a), static_cast<float>(b), static_cast<float>(c)));
}
inline __half __hmax(__half a, __half b) { return __half(fmaxf(static_cast<float>(a), static_cast<float>(b))); }
inline __half __hmin(__half a, __half b) { return __half(fminf(static_cast<float>(a), static_cast<float>(b))); }
inline bool __heq(__half a, __half b) { return a == b; }
inline bool __hlt(__half a, __half b) { return a < b; }
inline bool __hgt(__half a, __half b) { return a > b; }
inline bool __hisnan(__half a) { return (a.__x & 0x7fffu) > 0x7c00u; }
inline int __hisinf(__half a) { return (a.__x & 0x7fffu) == 0x7c00u ? ((a.__x & 0x8000u) ? -1 : 1) : 0; }
inline __half hexp(__half a) { return __half(expf(static_cast<float>(a))); }
inline __half hlog(__half a) { return __half(logf(static_cast<float>(a))); }
inline __half hsqrt(__half a) { return __half(sqrtf(static_cast<float>(a))); }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2{a.x + b.x, a.y + b.y}; }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2{a.x * b.x, a.y * b.y}; }

inline __half atomicAdd(__half* address, __half val) {
  __half old = *address;
  *address = old + val;
  return old;
}
inline __half2 atomicAdd(__half2* address, __half2 val) {
  __half2 old = *address;
  *address = __hadd2(old, val);
  return old;
}
