"""MXNet's RecordIO files (``mx.recordio``): the ``.rec`` container that im2rec writes and
``ImageRecordDataset`` reads, and its ``.idx`` index of ``key<TAB>offset`` lines.

A record is ``uint32 magic (0xced7230a)``, ``uint32 lrecord`` (upper 3 bits: continuation
flag, lower 29: length), the payload, zero padding to 4 bytes. A payload containing the
magic word at a 4-byte boundary is split there into parts flagged start (1), middle (2) and
end (3), so a reader can always resynchronise on the magic; the reader joins the parts and
puts the magic words back. ``pack``/``unpack`` add and strip the image header ``IRHeader``
(flag, label, id, id2; ``flag`` > 0 means that many float32 labels follow the header)."""
import os
import struct
from collections import namedtuple

import numpy as _np

__all__ = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "pack", "unpack"]

_MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", _MAGIC)
_LENGTH_BITS = 29

IRHeader = namedtuple("IRHeader", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = "Image record header: label count (0: one float label), label, ids."
_IR_FORMAT = "<IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


class MXRecordIO:
    """Sequential reading (``flag='r'``) or writing (``'w'``) of a ``.rec`` file."""

    def __init__(self, uri, flag):
        if flag not in ("r", "w"):
            raise ValueError(f"Invalid flag {flag!r}: 'r' to read or 'w' to write")
        self.uri = str(uri)
        self.flag = flag
        self.handle = None
        self.open()

    def open(self):
        self.handle = open(self.uri, "rb" if self.flag == "r" else "wb")
        self.writable = self.flag == "w"
        self._pid = os.getpid()

    def close(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __del__(self):
        self.close()

    def __getstate__(self):
        """A reader pickles (for DataLoader workers) as its path and reopens on arrival."""
        if self.writable:
            raise TypeError(f"a RecordIO writer of {self.uri} cannot be pickled")
        state = dict(self.__dict__)
        state["handle"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.open()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reset(self):
        """Back to the first record."""
        self.close()
        self.open()

    def tell(self):
        return self.handle.tell()

    def _check(self, writing):
        if self.handle is None:
            raise ValueError(f"{self.uri} is closed")
        if writing != self.writable:
            raise ValueError(f"{self.uri} was opened with flag {self.flag!r}")
        if self._pid != os.getpid():
            # a forked DataLoader worker: the inherited descriptor shares its offset with the
            # parent and the other workers, so this process reads through its own
            position = self.handle.tell()
            self.handle = open(self.uri, "rb")
            self.handle.seek(position)
            self._pid = os.getpid()

    def write(self, buf):
        """Append one record."""
        self._check(writing=True)
        buf = bytes(buf)
        parts, start = [], 0
        for at in range(0, len(buf) - 3, 4):
            if buf[at:at + 4] == _MAGIC_BYTES:
                parts.append(buf[start:at])
                start = at + 4
        parts.append(buf[start:])
        for i, part in enumerate(parts):
            if len(part) >= 1 << _LENGTH_BITS:
                raise ValueError(f"a RecordIO part holds at most 2**29 - 1 bytes, got "
                                 f"{len(part)}")
            cflag = 0 if len(parts) == 1 else 1 if i == 0 else 3 if i == len(parts) - 1 else 2
            self.handle.write(struct.pack("<II", _MAGIC, (cflag << _LENGTH_BITS) | len(part)))
            self.handle.write(part)
            self.handle.write(b"\0" * (-len(part) % 4))

    def read(self):
        """The next record's payload, or None at the end of the file."""
        self._check(writing=False)
        payload = []
        while True:
            head = self.handle.read(8)
            if not head:
                if payload:
                    raise ValueError(f"{self.uri}: the file ends inside a multi-part record")
                return None
            if len(head) < 8:
                raise ValueError(f"{self.uri}: truncated record header at byte "
                                 f"{self.handle.tell() - len(head)}")
            magic, lrecord = struct.unpack("<II", head)
            if magic != _MAGIC:
                raise ValueError(f"{self.uri}: invalid RecordIO magic 0x{magic:08x} at byte "
                                 f"{self.handle.tell() - 8} (not a .rec file, or a wrong "
                                 f"offset in its .idx)")
            cflag, length = lrecord >> _LENGTH_BITS, lrecord & ((1 << _LENGTH_BITS) - 1)
            data = self.handle.read(length)
            if len(data) < length:
                raise ValueError(f"{self.uri}: truncated record (wanted {length} bytes)")
            self.handle.read(-length % 4)
            if cflag == 0:
                return data
            if (cflag == 1) != (not payload):
                raise ValueError(f"{self.uri}: continuation flag {cflag} out of order")
            payload.append(data)
            if cflag == 3:
                return _MAGIC_BYTES.join(payload)


class MXIndexedRecordIO(MXRecordIO):
    """A ``.rec`` file with random access by key through its ``.idx`` file."""

    def __init__(self, idx_path, uri, flag, key_type=int):
        self.idx_path = str(idx_path)
        self.key_type = key_type
        self.idx = {}
        self.keys = []
        super().__init__(uri, flag)

    def open(self):
        super().open()
        self.idx, self.keys = {}, []
        if self.flag == "w":
            self.fidx = open(self.idx_path, "w")
            return
        self.fidx = None
        if not os.path.isfile(self.idx_path):
            raise FileNotFoundError(f"index file {self.idx_path} not found (it is written next "
                                    f"to the .rec by MXIndexedRecordIO or im2rec)")
        with open(self.idx_path) as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise ValueError(f"{self.idx_path}:{number}: expected 'key<TAB>offset', "
                                     f"got {line!r}")
                key = self.key_type(fields[0])
                self.idx[key] = int(fields[1])
                self.keys.append(key)

    def close(self):
        fidx = getattr(self, "fidx", None)
        if fidx is not None:
            fidx.close()
            self.fidx = None
        super().close()

    def seek(self, idx):
        self._check(writing=False)
        if idx not in self.idx:
            raise KeyError(f"key {idx!r} is not in {self.idx_path}")
        self.handle.seek(self.idx[idx])

    def read_idx(self, idx):
        """The record stored under key ``idx``."""
        self.seek(idx)
        return self.read()

    def write_idx(self, idx, buf):
        """Append a record under key ``idx``."""
        key = self.key_type(idx)
        position = self.tell()
        self.write(buf)
        self.fidx.write(f"{key}\t{position}\n")
        self.idx[key] = position
        self.keys.append(key)


def pack(header, s):
    """``IRHeader`` + payload bytes; an array label is stored after the header."""
    header = IRHeader(*header)
    label = _np.asarray(header.label, dtype=_np.float32)
    if label.ndim == 0:
        head = struct.pack(_IR_FORMAT, 0, float(label), header.id, header.id2)
    else:
        head = struct.pack(_IR_FORMAT, label.size, 0.0, header.id, header.id2) + label.tobytes()
    return head + bytes(s)


def unpack(s):
    """(IRHeader, payload bytes) of a packed record; an array label comes back as float32."""
    if len(s) < _IR_SIZE:
        raise ValueError(f"record of {len(s)} bytes is shorter than an IRHeader ({_IR_SIZE})")
    header = IRHeader(*struct.unpack(_IR_FORMAT, s[:_IR_SIZE]))
    s = s[_IR_SIZE:]
    if header.flag > 0:
        if len(s) < 4 * header.flag:
            raise ValueError(f"record promises {header.flag} labels but holds {len(s)} bytes")
        header = header._replace(label=_np.frombuffer(s, _np.float32, header.flag).copy())
        s = s[4 * header.flag:]
    return header, s
