// CUDA C built-ins for running kernels on the CPU (mxlite.testing.cudasim).
//
// A kernel file is compiled as C++17 with this header force-included. Each block runs
// its threads as cooperative fibers (ucontext, one stack per thread) that switch only at
// barriers (__syncthreads, warp shuffles/votes, __syncwarp), so the result checks a
// kernel's indexing and algorithm, not its timing or the GPU memory model.
#pragma once

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDASIM_ASAN 1
#endif

// ---------------------------------------------------------------------------------------
// Compiler identity and CUDA keywords.
#define __CUDASIM__ 1
#ifndef __CUDACC__
#define __CUDACC__ 1
#endif
#ifndef __CUDACC_RTC__
#define __CUDACC_RTC__ 1
#endif
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 800
#endif

#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __grid_constant__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __maxnreg__(n)
#define __cluster_dims__(...)
// Blocks run one after another, so a function-local static is exactly one block's
// shared variable. `extern __shared__` arrays are rewritten by the Python loader.
#define __shared__ static

// ---------------------------------------------------------------------------------------
// Vector types (CUDA's sizes and alignments).
#define CUDASIM_VECTOR_TYPES(T, name)                                                        \
  struct alignas(sizeof(T)) name##1 { T x; };                                               \
  struct alignas(2 * sizeof(T) < 16 ? 2 * sizeof(T) : 16) name##2 { T x, y; };              \
  struct name##3 { T x, y, z; };                                                            \
  struct alignas(4 * sizeof(T) < 16 ? 4 * sizeof(T) : 16) name##4 { T x, y, z, w; };       \
  inline name##1 make_##name##1(T x) { return name##1{x}; }                                 \
  inline name##2 make_##name##2(T x, T y) { return name##2{x, y}; }                         \
  inline name##3 make_##name##3(T x, T y, T z) { return name##3{x, y, z}; }                 \
  inline name##4 make_##name##4(T x, T y, T z, T w) { return name##4{x, y, z, w}; }

CUDASIM_VECTOR_TYPES(signed char, char)
CUDASIM_VECTOR_TYPES(unsigned char, uchar)
CUDASIM_VECTOR_TYPES(short, short)
CUDASIM_VECTOR_TYPES(unsigned short, ushort)
CUDASIM_VECTOR_TYPES(int, int)
CUDASIM_VECTOR_TYPES(unsigned int, uint)
CUDASIM_VECTOR_TYPES(long, long)
CUDASIM_VECTOR_TYPES(unsigned long, ulong)
CUDASIM_VECTOR_TYPES(long long, longlong)
CUDASIM_VECTOR_TYPES(unsigned long long, ulonglong)
CUDASIM_VECTOR_TYPES(float, float)
CUDASIM_VECTOR_TYPES(double, double)
#undef CUDASIM_VECTOR_TYPES

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};

constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------
// The fiber scheduler. All state lives in inline variables with external linkage so
// that the compiler reloads it after every context switch (an opaque call).
namespace cudasim {
namespace detail {

enum class FiberState : unsigned char { Ready, AtBlockBarrier, AtWarpBarrier, Done };

// On x86-64 a fiber switch saves the callee-saved registers and swaps stack pointers
// (a few nanoseconds); elsewhere it is swapcontext (a signal-mask system call per switch,
// and under ASan a clearing of the whole target stack's shadow).
#if defined(__x86_64__)
#define CUDASIM_STACK_SWITCH 1
#endif

struct Fiber {
#if defined(CUDASIM_STACK_SWITCH)
  void* stack_pointer;
#else
  ucontext_t context;
#endif
  void* stack;
  size_t stack_size;
  uint3 thread_idx;
  unsigned int linear_id;
  FiberState state;
  // Warp exchange: what this lane offers, which lane it reads, what it got back.
  unsigned int warp_mask;
  int source_lane;
  unsigned char offered[16];
  unsigned char received[16];
  unsigned int ballot;
  unsigned int participants;
  int barrier_predicate;
#if defined(CUDASIM_ASAN)
  void* fake_stack;
#endif
};

struct LaunchConfig {
  unsigned int grid[3];
  unsigned int block[3];
  unsigned long long shared_bytes;
};

#ifndef CUDASIM_STACK_BYTES
#if defined(CUDASIM_ASAN)
#define CUDASIM_STACK_BYTES (512 * 1024)
#else
#define CUDASIM_STACK_BYTES (128 * 1024)
#endif
#endif

#if defined(CUDASIM_STACK_SWITCH)
// Saves the callee-saved registers on the current stack, stores its stack pointer in
// *save, loads `load` and restores the registers saved there.
extern "C" void cudasim_switch_stack(void** save, void* load);
asm(R"(
  .text
  .p2align 4
  .hidden cudasim_switch_stack
  .type cudasim_switch_stack, @function
cudasim_switch_stack:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cudasim_switch_stack, .-cudasim_switch_stack
)");
#endif

inline Fiber* current_thread = nullptr;
inline uint3 block_idx;
inline dim3 block_dim;
inline dim3 grid_dim;
inline void* dynamic_shared_memory = nullptr;
inline int block_barrier_count = 0;

inline std::vector<Fiber>* fibers = nullptr;
#if defined(CUDASIM_STACK_SWITCH)
inline void* scheduler_stack_pointer = nullptr;
#else
inline ucontext_t scheduler_context;
#endif
inline bool launch_aborted = false;
inline std::string last_error;
inline void (*kernel_body)(void*) = nullptr;
inline void* kernel_body_argument = nullptr;
#if defined(CUDASIM_ASAN)
inline void* scheduler_fake_stack = nullptr;
inline const void* scheduler_stack_bottom = nullptr;
inline size_t scheduler_stack_size = 0;
#endif

// Stacks are kept for the life of the process: one mapping per fiber slot, each with a
// guard page below it so that a stack overflow faults instead of corrupting a neighbour.
inline std::vector<void*>& stack_pool() {
  static std::vector<void*> pool;
  return pool;
}

inline void* stack_for_slot(size_t slot) {
  std::vector<void*>& pool = stack_pool();
  while (pool.size() <= slot) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* region = mmap(nullptr, CUDASIM_STACK_BYTES + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED) return nullptr;
    mprotect(region, page, PROT_NONE);
    pool.push_back(static_cast<char*>(region) + page);
  }
  return pool[slot];
}

inline void fail(const std::string& message) {
  if (!launch_aborted) last_error = message;
  launch_aborted = true;
}

// Switches from the running fiber back to the scheduler.
inline void switch_to_scheduler(Fiber* self) {
#if defined(CUDASIM_ASAN)
  __sanitizer_start_switch_fiber(&self->fake_stack, scheduler_stack_bottom, scheduler_stack_size);
#endif
#if defined(CUDASIM_STACK_SWITCH)
  cudasim_switch_stack(&self->stack_pointer, scheduler_stack_pointer);
#else
  swapcontext(&self->context, &scheduler_context);
#endif
#if defined(CUDASIM_ASAN)
  __sanitizer_finish_switch_fiber(self->fake_stack, nullptr, nullptr);
#endif
}

inline void fiber_entry() {
#if defined(CUDASIM_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack_bottom, &scheduler_stack_size);
#endif
  kernel_body(kernel_body_argument);
  Fiber* self = current_thread;
  self->state = FiberState::Done;
#if defined(CUDASIM_ASAN)
  // A finished fiber's fake stack is released by passing nullptr.
  __sanitizer_start_switch_fiber(nullptr, scheduler_stack_bottom, scheduler_stack_size);
#endif
#if defined(CUDASIM_STACK_SWITCH)
  // A finished fiber is never resumed: its stack is set up afresh for the next block.
  cudasim_switch_stack(&self->stack_pointer, scheduler_stack_pointer);
#endif
  // With ucontext, returning resumes uc_link, the scheduler.
}

inline void resume(Fiber& fiber) {
  current_thread = &fiber;
#if defined(CUDASIM_ASAN)
  __sanitizer_start_switch_fiber(&scheduler_fake_stack, fiber.stack, fiber.stack_size);
#endif
#if defined(CUDASIM_STACK_SWITCH)
  cudasim_switch_stack(&scheduler_stack_pointer, fiber.stack_pointer);
#else
  swapcontext(&scheduler_context, &fiber.context);
#endif
#if defined(CUDASIM_ASAN)
  __sanitizer_finish_switch_fiber(scheduler_fake_stack, nullptr, nullptr);
#endif
  current_thread = nullptr;
}

inline unsigned int lane_of(const Fiber& fiber) { return fiber.linear_id & 31u; }

inline const char* state_name(FiberState state) {
  switch (state) {
    case FiberState::Ready: return "running";
    case FiberState::AtBlockBarrier: return "__syncthreads";
    case FiberState::AtWarpBarrier: return "a warp operation (__shfl*/__syncwarp/vote)";
    case FiberState::Done: return "exited";
  }
  return "?";
}

// Releases the lanes of one warp that wait in a warp operation, if every lane named
// in their masks has arrived or exited. Returns whether it released anything.
inline bool release_warp(std::vector<Fiber>& all, size_t first, size_t end) {
  unsigned int waiting = 0, requested = 0, existing = 0, exited = 0, ballot = 0;
  for (size_t i = first; i < end; ++i) {
    Fiber& f = all[i];
    unsigned int bit = 1u << lane_of(f);
    existing |= bit;
    if (f.state == FiberState::Done) exited |= bit;
    if (f.state == FiberState::AtWarpBarrier) {
      waiting |= bit;
      requested |= f.warp_mask;
      if (f.barrier_predicate) ballot |= bit;
    }
  }
  if (!waiting) return false;
  requested &= existing;
  if ((requested & ~(waiting | exited)) != 0) return false;
  for (size_t i = first; i < end; ++i) {
    Fiber& f = all[i];
    if (f.state != FiberState::AtWarpBarrier) continue;
    int source = f.source_lane;
    bool readable = source >= 0 && source < 32 && ((waiting >> source) & 1u);
    const Fiber& from = readable ? all[first + static_cast<size_t>(source)] : f;
    std::memcpy(f.received, from.offered, sizeof f.received);
    f.participants = waiting & f.warp_mask;
    f.ballot = ballot & f.warp_mask;
    f.state = FiberState::Ready;
  }
  return true;
}

inline std::string describe_deadlock(const std::vector<Fiber>& all) {
  std::string text =
      "threads of block (" + std::to_string(block_idx.x) + "," + std::to_string(block_idx.y) + "," +
      std::to_string(block_idx.z) + ") wait at barriers that can never be released "
      "(a __syncthreads or full-mask warp operation in divergent code?):";
  int shown = 0;
  for (const Fiber& f : all) {
    if (f.state == FiberState::Done) continue;
    if (shown++ == 8) { text += " ..."; break; }
    text += " thread (" + std::to_string(f.thread_idx.x) + "," + std::to_string(f.thread_idx.y) + "," +
            std::to_string(f.thread_idx.z) + ") in " + state_name(f.state) + ";";
  }
  return text;
}

inline void run_block(std::vector<Fiber>& all) {
  for (Fiber& f : all) {
#if defined(CUDASIM_STACK_SWITCH)
    // The first switch pops six zero registers and returns into fiber_entry, whose
    // frame then looks called: its return-address slot sits at a 16-byte boundary - 8.
    void** top = reinterpret_cast<void**>(static_cast<char*>(f.stack) + f.stack_size);
    top[-1] = nullptr;
    top[-2] = reinterpret_cast<void*>(&fiber_entry);
    for (int i = 3; i <= 8; ++i) top[-i] = nullptr;
    f.stack_pointer = top - 8;
#else
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack;
    f.context.uc_stack.ss_size = f.stack_size;
    f.context.uc_link = &scheduler_context;
    makecontext(&f.context, fiber_entry, 0);
#endif
    f.state = FiberState::Ready;
  }
  size_t count = all.size();
  for (;;) {
    bool live = false;
    for (Fiber& f : all) {
      if (f.state == FiberState::Ready) resume(f);
      if (launch_aborted) return;
      live = live || f.state != FiberState::Done;
    }
    if (!live) return;
    bool released = false;
    for (size_t first = 0; first < count; first += 32)
      released = release_warp(all, first, first + 32 < count ? first + 32 : count) || released;
    if (released) continue;
    bool all_at_block_barrier = true;
    int predicate_count = 0;
    for (const Fiber& f : all) {
      if (f.state == FiberState::Done) continue;
      if (f.state != FiberState::AtBlockBarrier) all_at_block_barrier = false;
      predicate_count += f.barrier_predicate != 0;
    }
    if (!all_at_block_barrier) {
      fail(describe_deadlock(all));
      return;
    }
    block_barrier_count = predicate_count;
    for (Fiber& f : all)
      if (f.state == FiberState::AtBlockBarrier) f.state = FiberState::Ready;
  }
}

inline bool check_config(const LaunchConfig& c) {
  unsigned long long threads = 1ull * c.block[0] * c.block[1] * c.block[2];
  if (threads == 0 || c.grid[0] == 0 || c.grid[1] == 0 || c.grid[2] == 0) {
    fail("grid and block dimensions must be positive");
    return false;
  }
  if (threads > 1024 || c.block[2] > 64) {
    fail("block (" + std::to_string(c.block[0]) + "," + std::to_string(c.block[1]) + "," +
         std::to_string(c.block[2]) + ") has more than 1024 threads or z > 64");
    return false;
  }
  return true;
}

#if defined(CUDASIM_ASAN)
// Appended to an AddressSanitizer report: which CUDA thread made the bad access.
inline void report_cuda_thread(const char*) {
  if (const Fiber* f = current_thread)
    fprintf(stderr, "cudasim: the access was made by thread (%u,%u,%u) of block (%u,%u,%u)\n", f->thread_idx.x,
            f->thread_idx.y, f->thread_idx.z, block_idx.x, block_idx.y, block_idx.z);
}
#endif

inline int run_grid(const LaunchConfig& config, void (*body)(void*), void* argument) {
#if defined(CUDASIM_ASAN)
  __asan_set_error_report_callback(report_cuda_thread);
#endif
  launch_aborted = false;
  last_error.clear();
  if (!check_config(config)) return 1;
  size_t threads = static_cast<size_t>(config.block[0]) * config.block[1] * config.block[2];
  std::vector<Fiber> all(threads);
  for (size_t i = 0; i < threads; ++i) {
    Fiber& f = all[i];
    f.stack = stack_for_slot(i);
    if (!f.stack) {
      fail("cannot map a fiber stack (out of memory?)");
      return 1;
    }
    f.stack_size = CUDASIM_STACK_BYTES;
    f.linear_id = static_cast<unsigned int>(i);
    f.thread_idx = uint3{static_cast<unsigned int>(i % config.block[0]),
                         static_cast<unsigned int>((i / config.block[0]) % config.block[1]),
                         static_cast<unsigned int>(i / (static_cast<size_t>(config.block[0]) * config.block[1]))};
  }
  size_t shared_bytes = config.shared_bytes ? static_cast<size_t>(config.shared_bytes) : 1;
  void* shared = nullptr;
  if (posix_memalign(&shared, 256, shared_bytes) != 0) {
    fail("cannot allocate dynamic shared memory");
    return 1;
  }
  fibers = &all;
  kernel_body = body;
  kernel_body_argument = argument;
  dynamic_shared_memory = shared;
  block_dim = dim3(config.block[0], config.block[1], config.block[2]);
  grid_dim = dim3(config.grid[0], config.grid[1], config.grid[2]);
  for (unsigned int bz = 0; bz < config.grid[2] && !launch_aborted; ++bz)
    for (unsigned int by = 0; by < config.grid[1] && !launch_aborted; ++by)
      for (unsigned int bx = 0; bx < config.grid[0] && !launch_aborted; ++bx) {
        block_idx = uint3{bx, by, bz};
        // Uninitialised shared memory reads as NaN / -1 rather than a lucky zero.
        std::memset(shared, 0xff, shared_bytes);
        run_block(all);
      }
  free(shared);
  dynamic_shared_memory = nullptr;
#if defined(CUDASIM_ASAN)
  // Fibers abandoned by a failed launch leave poisoned frames on stacks that the next
  // launch reuses.
  if (launch_aborted)
    for (size_t i = 0; i < threads; ++i) __asan_unpoison_memory_region(all[i].stack, all[i].stack_size);
#endif
  fibers = nullptr;
  return launch_aborted ? 1 : 0;
}

template <class T>
T load_argument(void* address) {
  T value;
  std::memcpy(static_cast<void*>(&value), address, sizeof(T));
  return value;
}

template <class... P, size_t... I>
int launch_unpacked(void (*kernel)(P...), const LaunchConfig& config, void** args, std::index_sequence<I...>) {
  std::tuple<std::decay_t<P>...> values{load_argument<std::decay_t<P>>(args[I])...};
  auto call = [&]() { std::apply(kernel, values); };
  return run_grid(config, [](void* f) { (*static_cast<decltype(call)*>(f))(); }, &call);
}

template <class... P>
int launch(void (*kernel)(P...), const LaunchConfig& config, void** args) {
  return launch_unpacked(kernel, config, args, std::index_sequence_for<P...>{});
}

// Parameter descriptions for the Python side's argument checks: one entry per
// parameter, 'P' for a pointer followed by the pointee's code; codes are a kind
// (f float, i signed, u unsigned, b bool, e enum, p pointer, v void, S other) and a size.
template <class T>
void describe_value(std::string& out) {
  if constexpr (std::is_void_v<T>) {
    out += "v0";
    return;
  } else {
    if constexpr (std::is_same_v<T, bool>) out += 'b';
    else if constexpr (std::is_floating_point_v<T>) out += 'f';
    else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) out += 'i';
    else if constexpr (std::is_integral_v<T>) out += 'u';
    else if constexpr (std::is_enum_v<T>) out += 'e';
    else if constexpr (std::is_pointer_v<T>) out += 'p';
    else out += 'S';
    out += std::to_string(sizeof(T));
  }
}

template <class T>
void describe_parameter(std::string& out) {
  using U = std::decay_t<T>;
  if constexpr (std::is_pointer_v<U>) {
    out += 'P';
    describe_value<std::remove_cv_t<std::remove_pointer_t<U>>>(out);
  } else {
    describe_value<U>(out);
  }
  out += ',';
}

template <class... P>
std::string signature(void (*)(P...)) {
  std::string out;
  (describe_parameter<P>(out), ...);
  return out;
}

// --- barriers and warp exchange, called from inside fibers ---------------------------

inline void wait_at_block_barrier(int predicate) {
  Fiber* self = current_thread;
  self->barrier_predicate = predicate;
  self->state = FiberState::AtBlockBarrier;
  switch_to_scheduler(self);
}

inline Fiber* warp_exchange(unsigned int mask, const void* value, size_t bytes, int source_lane, int predicate) {
  Fiber* self = current_thread;
  self->warp_mask = mask;
  self->source_lane = source_lane;
  self->barrier_predicate = predicate;
  if (bytes) std::memcpy(self->offered, value, bytes);
  self->state = FiberState::AtWarpBarrier;
  switch_to_scheduler(self);
  return current_thread;
}

template <class T>
T shuffle(unsigned int mask, T value, int source_lane) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable_v<T>, "warp shuffles move values of at most 16 bytes");
  Fiber* self = warp_exchange(mask, &value, sizeof(T), source_lane, 0);
  T result;
  std::memcpy(static_cast<void*>(&result), self->received, sizeof(T));
  return result;
}

inline int lane_id() { return static_cast<int>(current_thread->linear_id & 31u); }

[[noreturn]] inline void trap(const char* why) {
  Fiber* self = current_thread;
  fail(std::string(why) + " in thread (" + std::to_string(self->thread_idx.x) + "," +
       std::to_string(self->thread_idx.y) + "," + std::to_string(self->thread_idx.z) + ") of block (" +
       std::to_string(block_idx.x) + "," + std::to_string(block_idx.y) + "," + std::to_string(block_idx.z) + ")");
  switch_to_scheduler(self);
  abort();  // an aborted launch never resumes its fibers
}

}  // namespace detail
}  // namespace cudasim

#define threadIdx (::cudasim::detail::current_thread->thread_idx)
#define blockIdx (::cudasim::detail::block_idx)
#define blockDim (::cudasim::detail::block_dim)
#define gridDim (::cudasim::detail::grid_dim)

// ---------------------------------------------------------------------------------------
// Synchronisation, warp shuffles and votes.
inline void __syncthreads() { ::cudasim::detail::wait_at_block_barrier(0); }
inline int __syncthreads_count(int predicate) {
  ::cudasim::detail::wait_at_block_barrier(predicate != 0);
  return ::cudasim::detail::block_barrier_count;
}
inline int __syncthreads_and(int predicate) {
  ::cudasim::detail::wait_at_block_barrier(predicate != 0);
  int live = 0;
  for (const auto& f : *::cudasim::detail::fibers) live += f.state != ::cudasim::detail::FiberState::Done;
  return ::cudasim::detail::block_barrier_count == live;
}
inline int __syncthreads_or(int predicate) {
  ::cudasim::detail::wait_at_block_barrier(predicate != 0);
  return ::cudasim::detail::block_barrier_count != 0;
}
inline void __syncwarp(unsigned int mask = 0xffffffffu) { ::cudasim::detail::warp_exchange(mask, nullptr, 0, -1, 0); }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}
inline void __nanosleep(unsigned int) {}
[[noreturn]] inline void __trap() { ::cudasim::detail::trap("__trap()"); }

inline unsigned int __activemask() {
  const auto& all = *::cudasim::detail::fibers;
  size_t first = ::cudasim::detail::current_thread->linear_id & ~31u;
  unsigned int mask = 0;
  for (size_t i = first; i < first + 32 && i < all.size(); ++i)
    if (all[i].state != ::cudasim::detail::FiberState::Done) mask |= 1u << (i - first);
  return mask;
}

template <class T>
T __shfl_sync(unsigned int mask, T value, int source_lane, int width = warpSize) {
  int lane = ::cudasim::detail::lane_id();
  return ::cudasim::detail::shuffle(mask, value, (lane & ~(width - 1)) + (source_lane & (width - 1)));
}
template <class T>
T __shfl_up_sync(unsigned int mask, T value, unsigned int delta, int width = warpSize) {
  int lane = ::cudasim::detail::lane_id();
  bool own = (lane & (width - 1)) < static_cast<int>(delta);
  return ::cudasim::detail::shuffle(mask, value, own ? lane : lane - static_cast<int>(delta));
}
template <class T>
T __shfl_down_sync(unsigned int mask, T value, unsigned int delta, int width = warpSize) {
  int lane = ::cudasim::detail::lane_id();
  bool own = (lane & (width - 1)) + static_cast<int>(delta) >= width;
  return ::cudasim::detail::shuffle(mask, value, own ? lane : lane + static_cast<int>(delta));
}
template <class T>
T __shfl_xor_sync(unsigned int mask, T value, int lane_mask, int width = warpSize) {
  int lane = ::cudasim::detail::lane_id();
  int source = lane ^ lane_mask;
  bool own = (source & ~(width - 1)) != (lane & ~(width - 1));
  return ::cudasim::detail::shuffle(mask, value, own ? lane : source);
}
inline unsigned int __ballot_sync(unsigned int mask, int predicate) {
  return ::cudasim::detail::warp_exchange(mask, nullptr, 0, -1, predicate != 0)->ballot;
}
inline int __any_sync(unsigned int mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned int mask, int predicate) {
  auto* self = ::cudasim::detail::warp_exchange(mask, nullptr, 0, -1, predicate != 0);
  return self->ballot == self->participants;
}

// ---------------------------------------------------------------------------------------
// Atomics: plain read-modify-write, because fibers never preempt each other.
#define CUDASIM_ATOMIC(name, T, update)    \
  inline T name(T* address, T val) {      \
    T old = *address;                     \
    *address = (update);                  \
    return old;                           \
  }
#define CUDASIM_ATOMIC_INTEGERS(name, update)              \
  CUDASIM_ATOMIC(name, int, update)                        \
  CUDASIM_ATOMIC(name, unsigned int, update)               \
  CUDASIM_ATOMIC(name, long long, update)                  \
  CUDASIM_ATOMIC(name, unsigned long long, update)

CUDASIM_ATOMIC_INTEGERS(atomicAdd, old + val)
CUDASIM_ATOMIC(atomicAdd, float, old + val)
CUDASIM_ATOMIC(atomicAdd, double, old + val)
CUDASIM_ATOMIC_INTEGERS(atomicSub, old - val)
CUDASIM_ATOMIC_INTEGERS(atomicExch, val)
CUDASIM_ATOMIC(atomicExch, float, val)
CUDASIM_ATOMIC_INTEGERS(atomicMax, old < val ? val : old)
CUDASIM_ATOMIC_INTEGERS(atomicMin, val < old ? val : old)
CUDASIM_ATOMIC_INTEGERS(atomicAnd, old & val)
CUDASIM_ATOMIC_INTEGERS(atomicOr, old | val)
CUDASIM_ATOMIC_INTEGERS(atomicXor, old ^ val)
CUDASIM_ATOMIC(atomicInc, unsigned int, old >= val ? 0u : old + 1u)
CUDASIM_ATOMIC(atomicDec, unsigned int, (old == 0u || old > val) ? val : old - 1u)
#undef CUDASIM_ATOMIC_INTEGERS
#undef CUDASIM_ATOMIC

#define CUDASIM_ATOMIC_CAS(T)                                  \
  inline T atomicCAS(T* address, T compare, T val) {           \
    T old = *address;                                          \
    if (old == compare) *address = val;                        \
    return old;                                                \
  }
CUDASIM_ATOMIC_CAS(int)
CUDASIM_ATOMIC_CAS(unsigned int)
CUDASIM_ATOMIC_CAS(unsigned long long)
CUDASIM_ATOMIC_CAS(unsigned short)
#undef CUDASIM_ATOMIC_CAS

#define CUDASIM_ATOMIC_SCOPES(name)                                                      \
  template <class... A> auto name##_block(A... a) -> decltype(name(a...)) { return name(a...); }  \
  template <class... A> auto name##_system(A... a) -> decltype(name(a...)) { return name(a...); }
CUDASIM_ATOMIC_SCOPES(atomicAdd)
CUDASIM_ATOMIC_SCOPES(atomicSub)
CUDASIM_ATOMIC_SCOPES(atomicExch)
CUDASIM_ATOMIC_SCOPES(atomicMax)
CUDASIM_ATOMIC_SCOPES(atomicMin)
CUDASIM_ATOMIC_SCOPES(atomicAnd)
CUDASIM_ATOMIC_SCOPES(atomicOr)
CUDASIM_ATOMIC_SCOPES(atomicXor)
CUDASIM_ATOMIC_SCOPES(atomicCAS)
#undef CUDASIM_ATOMIC_SCOPES

// ---------------------------------------------------------------------------------------
// Cache-hinted loads and stores.
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldca(const T* p) { return *p; }
template <class T> inline T __ldcg(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline T __ldlu(const T* p) { return *p; }
template <class T> inline T __ldcv(const T* p) { return *p; }
template <class T> inline void __stwb(T* p, T v) { *p = v; }
template <class T> inline void __stcg(T* p, T v) { *p = v; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }
template <class T> inline void __stwt(T* p, T v) { *p = v; }

inline long long clock64() {
  static long long ticks = 0;
  return ++ticks;
}

// ---------------------------------------------------------------------------------------
// min/max as CUDA's overloads behave: the common type of the two arguments; the float
// versions ignore a NaN like fminf/fmaxf.
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return std::fmin(C(a), C(b));
  else return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>) return std::fmax(C(a), C(b));
  else return C(a) < C(b) ? C(b) : C(a);
}

// ---------------------------------------------------------------------------------------
// Math: the fast intrinsics are computed at full precision here.
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline void __sincosf(float x, float* s, float* c) { sincosf(x, s, c); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }

// erfinv by Giles' single-precision approximation, polished with two Newton steps.
inline double erfinv(double y) {
  if (y <= -1.0) return y == -1.0 ? -HUGE_VAL : NAN;
  if (y >= 1.0) return y == 1.0 ? HUGE_VAL : NAN;
  double w = -log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    x = 2.81022636e-08;
    x = 3.43273939e-07 + x * w; x = -3.5233877e-06 + x * w; x = -4.39150654e-06 + x * w;
    x = 0.00021858087 + x * w; x = -0.00125372503 + x * w; x = -0.00417768164 + x * w;
    x = 0.246640727 + x * w; x = 1.50140941 + x * w;
  } else {
    w = sqrt(w) - 3.0;
    x = -0.000200214257;
    x = 0.000100950558 + x * w; x = 0.00134934322 + x * w; x = -0.00367342844 + x * w;
    x = 0.00573950773 + x * w; x = -0.0076224613 + x * w; x = 0.00943887047 + x * w;
    x = 1.00167406 + x * w; x = 2.83297682 + x * w;
  }
  x *= y;
  for (int i = 0; i < 2; ++i) x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
  return x;
}
inline float erfinvf(float y) { return static_cast<float>(erfinv(y)); }
inline double erfcinv(double y) { return erfinv(1.0 - y); }
inline float erfcinvf(float y) { return static_cast<float>(erfinv(1.0 - static_cast<double>(y))); }

// Conversions and bit casts.
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(truncf(x)); }
inline int __float2int_rd(float x) { return static_cast<int>(floorf(x)); }
inline int __float2int_ru(float x) { return static_cast<int>(ceilf(x)); }
inline unsigned int __float2uint_rn(float x) { return static_cast<unsigned int>(nearbyintf(x)); }
inline unsigned int __float2uint_rz(float x) { return static_cast<unsigned int>(truncf(x)); }
inline long long __float2ll_rn(float x) { return static_cast<long long>(nearbyintf(x)); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline float __uint2float_rn(unsigned int x) { return static_cast<float>(x); }
inline float __ll2float_rn(long long x) { return static_cast<float>(x); }
inline float __double2float_rn(double x) { return static_cast<float>(x); }
inline int __double2int_rn(double x) { return static_cast<int>(nearbyint(x)); }

template <class To, class From>
inline To cudasim_bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "bit casts keep the size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}
inline int __float_as_int(float x) { return cudasim_bit_cast<int>(x); }
inline unsigned int __float_as_uint(float x) { return cudasim_bit_cast<unsigned int>(x); }
inline float __int_as_float(int x) { return cudasim_bit_cast<float>(x); }
inline float __uint_as_float(unsigned int x) { return cudasim_bit_cast<float>(x); }
inline long long __double_as_longlong(double x) { return cudasim_bit_cast<long long>(x); }
inline double __longlong_as_double(long long x) { return cudasim_bit_cast<double>(x); }

// Integer intrinsics.
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) {
  return static_cast<long long>((static_cast<__int128>(a) * b) >> 64);
}
inline int __mul24(int a, int b) { return ((a << 8) >> 8) * ((b << 8) >> 8); }
inline unsigned int __umul24(unsigned int a, unsigned int b) { return (a & 0xffffffu) * (b & 0xffffffu); }
inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int shift) {
  unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
  return static_cast<unsigned int>((v << (shift & 31u)) >> 32);
}
inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int shift) {
  unsigned long long v = (static_cast<unsigned long long>(hi) << 32) | lo;
  return static_cast<unsigned int>(v >> (shift & 31u));
}
