// __nv_bfloat16 for mxlite.testing.cudasim: storage, round-to-nearest-even conversions
// and arithmetic through float (each operation rounds once, as on the GPU).
#pragma once
#include "cuda_sim.h"

namespace cudasim {
namespace detail {
inline unsigned short float_to_bfloat16_bits(float value) {
  unsigned int bits;
  std::memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((bits >> 16) | 0x0040u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<unsigned short>(bits >> 16);
}

inline float bfloat16_bits_to_float(unsigned short raw) {
  unsigned int bits = static_cast<unsigned int>(raw) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
}  // namespace detail
}  // namespace cudasim

struct __nv_bfloat16_raw {
  unsigned short x;
};

struct alignas(2) __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  constexpr __nv_bfloat16(__nv_bfloat16_raw raw) : __x(raw.x) {}
  __nv_bfloat16(float v) : __x(::cudasim::detail::float_to_bfloat16_bits(v)) {}
  __nv_bfloat16(double v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(short v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(unsigned short v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(int v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(unsigned int v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(long v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(unsigned long v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(long long v) : __nv_bfloat16(static_cast<float>(v)) {}
  __nv_bfloat16(unsigned long long v) : __nv_bfloat16(static_cast<float>(v)) {}
  operator float() const { return ::cudasim::detail::bfloat16_bits_to_float(__x); }
  operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
};
typedef __nv_bfloat16 nv_bfloat16;

struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
typedef __nv_bfloat162 nv_bfloat162;

inline __nv_bfloat16 __float2bfloat16(float v) { return __nv_bfloat16(v); }
inline __nv_bfloat16 __float2bfloat16_rn(float v) { return __nv_bfloat16(v); }
inline __nv_bfloat16 __double2bfloat16(double v) { return __nv_bfloat16(v); }
inline float __bfloat162float(__nv_bfloat16 h) { return static_cast<float>(h); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short v) { return __nv_bfloat16(__nv_bfloat16_raw{v}); }
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return __nv_bfloat162{__nv_bfloat16(a), __nv_bfloat16(b)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return float2{static_cast<float>(h.x), static_cast<float>(h.y)}; }
inline float __low2float(__nv_bfloat162 h) { return static_cast<float>(h.x); }
inline float __high2float(__nv_bfloat162 h) { return static_cast<float>(h.y); }

#define CUDASIM_BF16_BINARY(op)                                                                        \
  inline __nv_bfloat16 operator op(const __nv_bfloat16& a, const __nv_bfloat16& b) {                   \
    return __nv_bfloat16(static_cast<float>(a) op static_cast<float>(b));                              \
  }                                                                                                    \
  inline __nv_bfloat16& operator op##=(__nv_bfloat16& a, const __nv_bfloat16& b) { return a = a op b; }
CUDASIM_BF16_BINARY(+)
CUDASIM_BF16_BINARY(-)
CUDASIM_BF16_BINARY(*)
CUDASIM_BF16_BINARY(/)
#undef CUDASIM_BF16_BINARY
#define CUDASIM_BF16_COMPARE(op)                                                       \
  inline bool operator op(const __nv_bfloat16& a, const __nv_bfloat16& b) {            \
    return static_cast<float>(a) op static_cast<float>(b);                             \
  }
CUDASIM_BF16_COMPARE(==)
CUDASIM_BF16_COMPARE(!=)
CUDASIM_BF16_COMPARE(<)
CUDASIM_BF16_COMPARE(>)
CUDASIM_BF16_COMPARE(<=)
CUDASIM_BF16_COMPARE(>=)
#undef CUDASIM_BF16_COMPARE
inline __nv_bfloat16 operator-(const __nv_bfloat16& a) {
  return __nv_bfloat16(__nv_bfloat16_raw{static_cast<unsigned short>(a.__x ^ 0x8000u)});
}
inline __nv_bfloat16 operator+(const __nv_bfloat16& a) { return a; }

inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return a + b; }
inline __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) { return a - b; }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return a * b; }
inline __nv_bfloat16 __hdiv(__nv_bfloat16 a, __nv_bfloat16 b) { return a / b; }
inline __nv_bfloat16 __hneg(__nv_bfloat16 a) { return -a; }
inline __nv_bfloat16 __hmax(__nv_bfloat16 a, __nv_bfloat16 b) {
  return __nv_bfloat16(fmaxf(static_cast<float>(a), static_cast<float>(b)));
}
inline __nv_bfloat16 __hmin(__nv_bfloat16 a, __nv_bfloat16 b) {
  return __nv_bfloat16(fminf(static_cast<float>(a), static_cast<float>(b)));
}
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  return __nv_bfloat16(fmaf(static_cast<float>(a), static_cast<float>(b), static_cast<float>(c)));
}
inline bool __hisnan(__nv_bfloat16 a) { return (a.__x & 0x7fffu) > 0x7f80u; }

inline __nv_bfloat16 atomicAdd(__nv_bfloat16* address, __nv_bfloat16 val) {
  __nv_bfloat16 old = *address;
  *address = old + val;
  return old;
}
