"""Mixed precision on a lent card: one training step of a pre-norm transformer block in
float32 and under AMP, mxlite beside PyTorch in the same process (ratios, not absolutes).

    python -m bench.amp_bench [--steps 50] [--batch 32] [--seq 256] [--dim 1024] [--out PATH]

mxlite runs float32 and ``mx.amp`` float16 (bfloat16 GPU arrays are not stored yet: README,
"Mixed precision"); PyTorch runs float32 and ``torch.autocast`` in bfloat16 and float16
with a GradScaler. Without a usable GPU it prints why and exits 0 without measuring (the
CPU's 16-bit arithmetic is numpy emulation, which says nothing about a card). Results are
appended as JSON lines to ``bench/results/gpu-amp.jsonl``.
"""
import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "gpu-amp.jsonl"


def gpu_reason():
    """Why no GPU benchmark can run here, or None."""
    import mxlite as mx
    from mxlite.test_utils import gpu_unusable_reason
    if mx.device.num_gpus() == 0:
        return "no GPU found"
    return gpu_unusable_reason(0)


def _mxlite_block(dim, heads):
    from mxlite import gluon, np as mnp, npx
    from mxlite.gluon import nn

    class Block(gluon.HybridBlock):
        """Pre-norm encoder block: x + attn(ln(x)), then + ffn(ln(.))."""

        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(in_channels=dim), nn.LayerNorm(in_channels=dim)
            self.qkv = nn.Dense(3 * dim, in_units=dim, flatten=False)
            self.proj = nn.Dense(dim, in_units=dim, flatten=False)
            self.ff1 = nn.Dense(4 * dim, in_units=dim, flatten=False, activation="relu")
            self.ff2 = nn.Dense(dim, in_units=4 * dim, flatten=False)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = mnp.split(self.qkv(self.ln1(x)).reshape(b, t, 3, heads, d // heads)
                                .transpose(2, 0, 3, 1, 4), 3, axis=0)
            att = npx.softmax(mnp.matmul(q[0], k[0].transpose(0, 1, 3, 2)) / (d // heads) ** 0.5)
            y = mnp.matmul(att, v[0]).transpose(0, 2, 1, 3).reshape(b, t, d)
            x = x + self.proj(y)
            return x + self.ff2(self.ff1(self.ln2(x)))
    return Block()


def time_mxlite(x_host, steps, heads, amp_dtype, device=None):
    """ms per step on ``device`` (default gpu(0)); AMP in ``amp_dtype`` when given."""
    import mxlite as mx
    from mxlite import amp, autograd, gluon
    dev = device or mx.gpu(0)
    net = _mxlite_block(x_host.shape[-1], heads)
    net.initialize(mx.init.Xavier(), device=dev)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-4})
    x = mx.np.array(x_host, device=dev)
    if amp_dtype:
        amp.init(amp_dtype)
        amp.init_trainer(trainer)
    try:
        def step():
            with autograd.record():
                loss = (net(x) ** 2).mean()
                if amp_dtype:
                    with amp.scale_loss(loss, trainer) as scaled:
                        autograd.backward(scaled)
            if not amp_dtype:
                loss.backward()
            trainer.step(1)
            return loss
        return _time(step, steps, mx.npx.waitall)
    finally:
        if amp_dtype:
            amp.reset()


def time_torch(x_host, steps, heads, autocast_dtype):
    import torch
    dim = x_host.shape[-1]
    dev = torch.device("cuda")
    layer = torch.nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True,
                                             norm_first=True).to(dev)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(enabled=autocast_dtype == torch.float16)
    x = torch.tensor(x_host, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=autocast_dtype or torch.float32,
                            enabled=autocast_dtype is not None):
            loss = (layer(x) ** 2).mean()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss
    return _time(step, steps, torch.cuda.synchronize)


def _time(step, steps, sync):
    for _ in range(3):  # compile kernels, fill the pools
        step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    reason = gpu_reason()
    if reason is not None:
        print(f"SKIPPED: the AMP benchmark needs a usable GPU ({reason}); nothing measured")
        return 0
    import mxlite as mx
    x = np.random.default_rng(0).standard_normal((args.batch, args.seq, args.dim)).astype(np.float32)
    rows = {"mxlite float32": time_mxlite(x, args.steps, args.heads, None),
            "mxlite amp float16": time_mxlite(x, args.steps, args.heads, "float16")}
    versions = {"mxlite": mx.__version__, "python": platform.python_version()}
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: mxlite's rows only (pip install torch)")
    else:
        versions["torch"] = torch.__version__
        for name, dtype in (("torch float32", None), ("torch autocast bfloat16", torch.bfloat16),
                            ("torch autocast float16", torch.float16)):
            rows[name] = time_torch(x, args.steps, args.heads, dtype)
    import cupy
    card = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    record = {"card": card, "shape": [args.batch, args.seq, args.dim], "heads": args.heads,
              "steps": args.steps, "ms_per_step": rows, "versions": versions,
              "date": time.strftime("%Y-%m-%d")}
    base = rows["mxlite float32"]
    for name, ms in rows.items():
        print(f"{name:26s} {ms:8.2f} ms/step  {base / ms:5.2f}x mxlite float32")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(record) + "\n")
    print(f"appended to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
