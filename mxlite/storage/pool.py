"""Memory pools over a raw allocator: Naive, Round, BestFit and Unpooled.

One rule set for every device: the pool caches freed blocks and reuses them; on a miss
it keeps the device's reserve free, honours the limit, and on a raw out-of-memory
releases every cached block and retries once before raising :class:`OutOfMemoryError`.

Blocks belong to the stream they were allocated on (``malloc(nbytes, stream)``) and are
reused only for requests on that stream, as CuPy's pool does: a block freed while kernels
queued on its stream still read it is safe to hand to work queued after them on the same
stream, never to another stream's. Whole cached segments of any stream go back to the raw
allocator on a release (``cudaFree`` waits for the device).

``free`` only queues the block; the queue is drained under the lock by the next call
that needs the pool's state. Frees come from finalizers that may run on any thread, or
inside the pool itself when a garbage collection fires during ``malloc``; queuing makes
both safe without a re-entrant lock.
"""
import bisect
import collections
import threading

from .config import PoolConfig
from .raw import RawOutOfMemory

__all__ = ["Block", "MemoryPool", "OutOfMemoryError", "make_pool", "format_bytes"]


class OutOfMemoryError(MemoryError):
    """The pool cannot provide ``requested`` bytes, even after releasing its cache."""

    def __init__(self, message, requested=0, allocated=0, cached=0, free=0, total=0,
                 pool_type=""):
        super().__init__(message)
        self.requested = requested
        self.allocated = allocated
        self.cached = cached
        self.free = free
        self.total = total
        self.pool_type = pool_type


def format_bytes(n):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


class Block:
    """A range of a raw segment; BestFit links neighbours from the same segment."""

    __slots__ = ("address", "size", "requested", "segment", "prev", "next", "is_free", "stream")

    def __init__(self, address, size, segment, prev=None, next=None, stream=0):
        self.address = address
        self.size = size
        self.requested = 0
        self.segment = segment
        self.prev = prev
        self.next = next
        self.is_free = False
        self.stream = stream

    def __repr__(self):
        return f"Block(0x{self.address:x}, {self.size})"


EMPTY_BLOCK = Block(0, 0, 0)


class MemoryPool:
    """The shared bookkeeping; subclasses decide rounding, caching and splitting.

    Subclass hooks, all called with the lock held: ``_take(nbytes, stream)`` returns a
    cached block of that stream or None; ``_segment_size(nbytes)`` sizes a new raw segment;
    ``_carve(address, segment_size, nbytes, stream)`` turns a new segment into the block to
    return; ``_put(block)`` caches a freed block under its stream (or returns it to the raw
    allocator);
    ``_release_cached()`` frees every cached block it can back to the raw allocator;
    ``_free_blocks()`` iterates the cached blocks, ``_live_block_list()`` lists the
    blocks in use; ``_bucket_of(size)`` names the summary row of a block size.
    """

    pool_type = None

    def __init__(self, raw, config=None, name="device"):
        self.raw = raw
        self.config = config or PoolConfig(pool_type=self.pool_type)
        self.name = name
        self._lock = threading.Lock()
        self._pending_frees = collections.deque()
        self._limit = None
        self._limit_known = self.config.limit is None
        self._allocated = 0
        self._requested = 0
        self._reserved = 0
        self._peak_allocated = 0
        self._peak_requested = 0
        self._peak_reserved = 0
        self._live_blocks = 0
        self._hits = self._misses = 0
        self._raw_allocs = self._raw_frees = 0
        self._num_ooms = self._num_cache_releases = 0

    # -- public API --------------------------------------------------------------------
    def malloc(self, nbytes, stream=0):
        """A block of at least ``nbytes`` for work on ``stream`` (any hashable key: the
        allocator hook passes CuPy's current stream); size 0 gives an empty block at 0."""
        if nbytes < 0:
            raise ValueError(f"cannot allocate a negative number of bytes ({nbytes})")
        if nbytes == 0:
            return EMPTY_BLOCK
        with self._lock:
            if self._pending_frees:
                self._drain_frees()
            block = self._take(nbytes, stream)
            if block is None:
                self._misses += 1
                block = self._grow(nbytes, stream)
            else:
                self._hits += 1
            block.requested = nbytes
            self._live_blocks += 1
            allocated = self._allocated = self._allocated + block.size
            requested = self._requested = self._requested + nbytes
            if allocated > self._peak_allocated:
                self._peak_allocated = allocated
            if requested > self._peak_requested:
                self._peak_requested = requested
        return block

    def free(self, block):
        """Give ``block`` back; callable from any thread and from finalizers."""
        if block.size:
            self._pending_frees.append(block)

    def empty_cache(self):
        """Return every cached block that can be returned to the raw allocator."""
        with self._lock:
            self._drain_frees()
            self._release_all()

    def reset_peak(self):
        with self._lock:
            self._drain_frees()
            self._peak_allocated = self._allocated
            self._peak_requested = self._requested
            self._peak_reserved = self._reserved

    def stats(self):
        """Counters and byte totals; ``cached_bytes`` is held from the raw allocator
        but not in use, ``reserved_bytes`` is all held (in use + cached)."""
        with self._lock:
            self._drain_frees()
            free_sizes = [b.size for b in self._free_blocks()]
            total_free = sum(free_sizes)
            largest = max(free_sizes, default=0)
            return {
                "pool_type": self.pool_type,
                "device": self.name,
                "allocated_bytes": self._allocated,
                "requested_bytes": self._requested,
                "cached_bytes": self._reserved - self._allocated,
                "reserved_bytes": self._reserved,
                "peak_bytes": self._peak_allocated,
                "peak_requested_bytes": self._peak_requested,
                "peak_reserved_bytes": self._peak_reserved,
                "live_blocks": self._live_blocks,
                "free_blocks": len(free_sizes),
                "largest_free_block": largest,
                "fragmentation": 1.0 - largest / total_free if total_free else 0.0,
                "limit_bytes": self._limit_bytes(),
                "raw_allocs": self._raw_allocs,
                "raw_frees": self._raw_frees,
                "hits": self._hits,
                "misses": self._misses,
                "num_ooms": self._num_ooms,
                "num_cache_releases": self._num_cache_releases,
            }

    def summary(self):
        """A table of blocks per size bucket, then the totals and fragmentation."""
        with self._lock:
            self._drain_frees()
            rows = collections.defaultdict(lambda: [0, 0, 0, 0])
            for block in self._live_block_list():
                row = rows[self._bucket_of(block.size)]
                row[0] += 1
                row[1] += block.size
            for block in self._free_blocks():
                row = rows[self._bucket_of(block.size)]
                row[2] += 1
                row[3] += block.size
        st = self.stats()
        lines = [f"memory pool of {self.name}: {self.config.describe()}",
                 f"{'bucket':>14} {'in use':>7} {'in-use bytes':>14} "
                 f"{'cached':>7} {'cached bytes':>14}"]
        for bucket in sorted(rows):
            n_used, used, n_free, free = rows[bucket]
            lines.append(f"{format_bytes(bucket):>14} {n_used:>7} {format_bytes(used):>14} "
                         f"{n_free:>7} {format_bytes(free):>14}")
        if not rows:
            lines.append(f"{'(empty)':>14}")
        lines += [
            f"allocated {format_bytes(st['allocated_bytes'])} "
            f"(requested {format_bytes(st['requested_bytes'])}), "
            f"cached {format_bytes(st['cached_bytes'])}, "
            f"reserved {format_bytes(st['reserved_bytes'])}",
            f"peak allocated {format_bytes(st['peak_bytes'])}, "
            f"peak reserved {format_bytes(st['peak_reserved_bytes'])}",
            f"largest free block {format_bytes(st['largest_free_block'])}, "
            f"fragmentation {st['fragmentation']:.1%} (1 - largest free / total free)",
            f"raw allocs {st['raw_allocs']}, raw frees {st['raw_frees']}, hits {st['hits']}, "
            f"misses {st['misses']}, OOMs {st['num_ooms']}",
        ]
        return "\n".join(lines)

    # -- shared rules --------------------------------------------------------------------
    def _drain_frees(self):
        pending = self._pending_frees
        while pending:
            block = pending.popleft()
            self._live_blocks -= 1
            self._allocated -= block.size
            self._requested -= block.requested
            self._put(block)

    def _limit_bytes(self):
        if not self._limit_known:
            self._limit = self.config.limit_bytes(self.raw.mem_info()[1])
            self._limit_known = True
        return self._limit

    def _grow(self, nbytes, stream):
        """A new segment for ``nbytes``: honour limit and reserve, retry once on OOM."""
        segment_size = self._segment_size(nbytes)
        limit = self._limit_bytes()
        if limit is not None and self._reserved + segment_size > limit:
            self._release_all()
            if self._reserved + segment_size > limit:
                self._raise_oom(nbytes, f"the {self.pool_type} pool's limit of "
                                        f"{format_bytes(limit)} would be exceeded",
                                over_limit=True)
        if self.config.reserve_percent:
            free, total = self.raw.mem_info()
            if free - segment_size < total * self.config.reserve_percent / 100:
                self._release_all()
        try:
            address = self.raw.malloc(segment_size)
        except RawOutOfMemory:
            self._release_all()
            try:
                address = self.raw.malloc(segment_size)
            except RawOutOfMemory:
                self._raise_oom(nbytes, f"the device refused it twice (the "
                                        f"{self.pool_type} pool released its cache "
                                        f"in between)")
        self._raw_allocs += 1
        self._reserved += segment_size
        if self._reserved > self._peak_reserved:
            self._peak_reserved = self._reserved
        return self._carve(address, segment_size, nbytes, stream)

    def _raw_free(self, address, size):
        self.raw.free(address)
        self._raw_frees += 1
        self._reserved -= size

    def _release_all(self):
        self._num_cache_releases += 1
        self._release_cached()

    def _raise_oom(self, nbytes, reason, over_limit=False):
        self._num_ooms += 1
        try:
            free, total = self.raw.mem_info()
        except Exception:  # the report must not hide the OOM behind another error
            free = total = -1
        cached = self._reserved - self._allocated
        device_type = self.name.split("(")[0].split("_")[0].upper()  # cpu_pinned: CPU's
        env = f"MXLITE_{device_type if device_type in ('GPU', 'CPU') else '<DEV>'}_MEM_"
        hints = ["Free arrays you no longer need"]
        if over_limit:
            hints.append(f"raise {env}LIMIT")
        if self.pool_type != "BestFit":
            hints.append(f"try {env}POOL_TYPE=BestFit, which packs sizes more tightly")
        hints.append("lower the batch size")
        raise OutOfMemoryError(
            f"{self.name}: out of memory allocating {format_bytes(nbytes)} ({nbytes} "
            f"bytes): {reason}. {format_bytes(self._allocated)} in use by live arrays, "
            f"{format_bytes(cached)} cached, {format_bytes(free)} free of "
            f"{format_bytes(total)} on the device. {', '.join(hints[:-1])}, or "
            f"{hints[-1]} (device.empty_cache() releases cached blocks at any time).",
            requested=nbytes, allocated=self._allocated, cached=cached, free=free,
            total=total, pool_type=self.pool_type) from None

    def _bucket_of(self, size):
        return size


class _BucketPool(MemoryPool):
    """Exact-size buckets of rounded sizes with LIFO reuse and no splitting (MXNet)."""

    def __init__(self, raw, config=None, name="device"):
        super().__init__(raw, config, name)
        self._free_lists = collections.defaultdict(list)
        self._live_by_address = {}

    def _round(self, nbytes):
        raise NotImplementedError

    def _take(self, nbytes, stream):
        free_list = self._free_lists.get((stream, self._round(nbytes)))
        if not free_list:
            return None
        block = free_list.pop()
        block.is_free = False
        self._live_by_address[block.address] = block
        return block

    def _segment_size(self, nbytes):
        return self._round(nbytes)

    def _carve(self, address, segment_size, nbytes, stream):
        block = Block(address, segment_size, address, stream=stream)
        self._live_by_address[address] = block
        return block

    def _put(self, block):
        del self._live_by_address[block.address]
        block.is_free = True
        self._free_lists[block.stream, block.size].append(block)

    def _release_cached(self):
        for free_list in self._free_lists.values():
            for block in free_list:
                self._raw_free(block.address, block.size)
        self._free_lists.clear()

    def _free_blocks(self):
        for free_list in self._free_lists.values():
            yield from free_list

    def _live_block_list(self):
        return list(self._live_by_address.values())


class NaivePool(_BucketPool):
    """MXNet's default: round up to the page size; from the large-alloc size on, to
    multiples of it (2 MiB) so big blocks fill whole driver pages."""

    pool_type = "Naive"

    def _round(self, nbytes):
        step = (self.config.page_size if nbytes < self.config.large_alloc_round_size
                else self.config.large_alloc_round_size)
        return -(-nbytes // step) * step


class RoundPool(_BucketPool):
    """Power-of-two buckets (at least a page) up to 2^cutoff, then multiples of 2^cutoff."""

    pool_type = "Round"

    def _round(self, nbytes):
        linear_step = 1 << self.config.round_linear_cutoff
        if nbytes > linear_step:
            return -(-nbytes // linear_step) * linear_step
        return max(self.config.page_size, 1 << (nbytes - 1).bit_length())


class UnpooledPool(_BucketPool):
    """No caching: every malloc and free goes to the raw allocator (for debugging)."""

    pool_type = "Unpooled"

    def _round(self, nbytes):
        return nbytes

    def _take(self, nbytes, stream):
        return None

    def _put(self, block):
        del self._live_by_address[block.address]
        self._raw_free(block.address, block.size)

    def _bucket_of(self, size):
        return 1 << (size - 1).bit_length()


class BestFitPool(MemoryPool):
    """Best fit with splitting and merging, as CuPy and PyTorch do.

    Requests round up to 512 B. Small requests (<= 1 MiB) are carved from 2 MiB
    segments, and larger ones get a segment of exactly their rounded size, so
    small tensors do not pin large segments and large segments are not
    over-allocated. A free block is split when the remainder is worth keeping
    (>= 512 B in the small pool, > 1 MiB in the large pool, so large blocks do not
    crumble into slivers); a freed block merges with free neighbours of its segment.
    Only whole free segments go back to the raw allocator.
    """

    pool_type = "BestFit"
    ROUND = 512
    SMALL_REQUEST = 1 << 20
    SMALL_SEGMENT = 2 << 20
    LARGE_MIN_SPLIT_REMAINDER = 1 << 20

    def __init__(self, raw, config=None, name="device"):
        super().__init__(raw, config, name)
        # Per (stream, pool) (pool 0: small, 1: large): sorted (size, address) keys and
        # address -> Block; made on first use.
        self._free_keys = {}
        self._free_by_address = {}
        self._segments = {}  # segment address -> (first block, pool index)

    def _free_of(self, stream, which):
        key = (stream, which)
        if key not in self._free_keys:
            self._free_keys[key], self._free_by_address[key] = [], {}
        return self._free_keys[key], self._free_by_address[key]

    def _round(self, nbytes):
        return -(-nbytes // self.ROUND) * self.ROUND

    def _take(self, nbytes, stream):
        size = self._round(nbytes)
        which = 0 if size <= self.SMALL_REQUEST else 1
        keys, by_address = self._free_of(stream, which)
        i = bisect.bisect_left(keys, (size, 0))
        if i == len(keys):
            return None
        _, address = keys.pop(i)
        block = by_address.pop(address)
        block.is_free = False
        self._split(block, size, which)
        return block

    def _segment_size(self, nbytes):
        size = self._round(nbytes)
        return self.SMALL_SEGMENT if size <= self.SMALL_REQUEST else size

    def _carve(self, address, segment_size, nbytes, stream):
        block = Block(address, segment_size, address, stream=stream)
        size = self._round(nbytes)
        which = 0 if size <= self.SMALL_REQUEST else 1
        self._segments[address] = (block, which)
        self._split(block, size, which)
        return block

    def _split(self, block, size, which):
        remainder = block.size - size
        min_remainder = self.ROUND if which == 0 else self.LARGE_MIN_SPLIT_REMAINDER + 1
        if remainder < min_remainder:
            return
        rest = Block(block.address + size, remainder, block.segment, block, block.next,
                     block.stream)
        if block.next is not None:
            block.next.prev = rest
        block.next = rest
        block.size = size
        self._insert_free(rest, which)

    def _insert_free(self, block, which):
        block.is_free = True
        keys, by_address = self._free_of(block.stream, which)
        bisect.insort(keys, (block.size, block.address))
        by_address[block.address] = block

    def _remove_free(self, block, which):
        keys, by_address = self._free_of(block.stream, which)
        del keys[bisect.bisect_left(keys, (block.size, block.address))]
        del by_address[block.address]

    def _put(self, block):
        which = self._segments[block.segment][1]
        nxt = block.next
        if nxt is not None and nxt.is_free:
            self._remove_free(nxt, which)
            block.size += nxt.size
            block.next = nxt.next
            if nxt.next is not None:
                nxt.next.prev = block
        prev = block.prev
        if prev is not None and prev.is_free:
            self._remove_free(prev, which)
            prev.size += block.size
            prev.next = block.next
            if block.next is not None:
                block.next.prev = prev
            block = prev
        self._insert_free(block, which)

    def _release_cached(self):
        for (_, which), by_address in list(self._free_by_address.items()):
            for block in list(by_address.values()):
                if block.prev is None and block.next is None:
                    self._remove_free(block, which)
                    del self._segments[block.segment]
                    self._raw_free(block.address, block.size)

    def _free_blocks(self):
        for by_address in self._free_by_address.values():
            yield from by_address.values()

    def _live_block_list(self):
        blocks = []
        for block, _ in self._segments.values():
            while block is not None:
                if not block.is_free:
                    blocks.append(block)
                block = block.next
        return blocks

    def _bucket_of(self, size):
        return 1 << (size - 1).bit_length()


POOL_CLASSES = {cls.pool_type: cls for cls in (NaivePool, RoundPool, BestFitPool, UnpooledPool)}


def make_pool(raw, config, name="device"):
    """The pool that ``config.pool_type`` names, over the raw allocator ``raw``."""
    return POOL_CLASSES[config.pool_type](raw, config, name)
