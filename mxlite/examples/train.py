"""Train a small CNN on scikit-learn's handwritten digits (8x8 images, 10 classes).

    python -m mxlite.examples.train [--epochs N] [--device auto|cpu|gpu] [--name NAME]
                                    [--run-dir DIR] [--profile] ...  (--help lists all)
    python -m mxlite.distributed.launch -n 2 -- python -m mxlite.examples.train --kvstore dist_sync

Runs on the GPU when one is usable, else on the CPU; shows a progress bar with the
loss and throughput, prints train/validation accuracy per epoch, keeps the parameters
with the best validation accuracy and reports their test accuracy. Everything a run
writes goes to its run folder (``./runs/<name>/``): the parameters, the training curve
(``curve.json``, ``curve.csv`` and, with matplotlib, ``curve.png``) and, with
``--profile``, a trace that opens in Perfetto. With ``--kvstore dist_sync`` under
``mpirun -n N`` each rank trains on its own ``1/N`` of every epoch (``SplitSampler``) with
``batch_size/N`` samples per step, gradients are averaged over the ranks, and rank 0 prints
and writes the outputs.
The data ships with scikit-learn (no download): ``pip install 'mxlite[examples]'``.
"""
import argparse
import os
import sys
import json
import time

import numpy as np

import mxlite as mx
from mxlite import autograd, gluon
from mxlite.gluon import nn


def load_digits_splits(seed, val_fraction=0.15, test_fraction=0.15):
    """(train, val, test) pairs of images (N, 1, 8, 8) in [0, 1] and int labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise SystemExit("this example needs scikit-learn: pip install 'mxlite[examples]'") \
            from err
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(len(order) * test_fraction)
    n_val = int(len(order) * val_fraction)
    test, val, train = np.split(order, [n_test, n_test + n_val])
    return [(images[idx], labels[idx]) for idx in (train, val, test)]


def build_net(model="cnn"):
    """A small CNN (or, with model='mlp', a two-layer perceptron)."""
    net = nn.HybridSequential()
    if model == "cnn":
        net.add(nn.Conv2D(16, kernel_size=3, padding=1, activation="relu"),
                nn.Conv2D(32, kernel_size=3, padding=1, activation="relu"),
                nn.MaxPool2D(pool_size=2),
                nn.Flatten(),
                nn.Dense(64, activation="relu"),
                nn.Dense(10))
    elif model == "mlp":
        net.add(nn.Dense(128, activation="relu"), nn.Dense(10))
    else:
        raise ValueError(f"model must be 'cnn' or 'mlp', got {model!r}")
    return net


def pick_device(name="auto", rank=0):
    """The requested device; 'auto' is a GPU when usable, else the CPU. Rank ``r`` of a
    data-parallel job takes GPU ``r`` modulo the GPUs visible."""
    if name == "cpu":
        return mx.cpu()
    from mxlite.test_utils import gpu_unusable_reason
    count = mx.device.num_gpus()
    gpu = rank % count if count else 0
    reason = gpu_unusable_reason(gpu) if count > 0 else "no GPU found"
    if name == "gpu":
        if reason is not None:
            raise SystemExit(f"--device gpu: {reason}")
        return mx.gpu(gpu)
    return mx.gpu(gpu) if reason is None else mx.cpu()


def accuracy(net, images, labels, device, batch_size=512):
    metric = gluon.metric.Accuracy()
    for start in range(0, len(labels), batch_size):
        x = mx.np.array(images[start:start + batch_size], device=device)
        metric.update(labels[start:start + batch_size], net(x))
    return metric.get()[1]


def train(epochs=10, batch_size=64, lr=3e-3, device=None, seed=0, out=None, model="cnn",
          limit=None, progress=True, log=print, run_dir=None, amp=None, kvstore=None):
    """Train and return a dict of the best validation and the final test accuracy.

    ``limit`` trains on the first ``limit`` training samples only (for quick checks).
    ``out`` defaults to ``best.params`` in ``run_dir`` (default ``runs/digits-<model>``),
    which also gets the training curve. ``amp`` ('float16' or 'bfloat16') trains under
    ``mx.amp`` in that dtype (turned off again when training ends). ``kvstore`` (a name or
    ``mx.kv`` store) trains data-parallel: this rank takes its share of each epoch and of
    each batch; only rank 0 logs and writes files.
    """
    device = device or mx.cpu()
    mx.np.random.seed(seed)
    np.random.seed(seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_digits_splits(seed)
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    kv = mx.kv.create(kvstore) if isinstance(kvstore, str) else kvstore
    dataset = gluon.data.ArrayDataset(x_train, y_train)
    sampler = None
    if kv is not None and kv.num_workers > 1:
        if batch_size < kv.num_workers:
            raise SystemExit(f"--batch-size {batch_size} is the global batch: it must be at "
                             f"least the {kv.num_workers} ranks")
        sampler = gluon.data.SplitSampler(len(dataset), kv.num_workers, kv.rank, shuffle=True,
                                          seed=seed)
        loader = gluon.data.DataLoader(dataset, batch_size=batch_size // kv.num_workers,
                                       sampler=sampler)
        if kv.rank != 0:
            progress, log = False, _silent
    else:
        loader = gluon.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    net = build_net(model)
    net.initialize(mx.init.Xavier(), device=device)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr},
                            kvstore=kv if kv is not None else "device")
    if amp is not None:
        mx.amp.init(amp)
    try:
        return _fit(net, trainer, loader, (x_val, y_val), (x_test, y_test), epochs, device,
                    out, model, progress, log, run_dir, amp is not None, kv, sampler)
    finally:
        if amp is not None:
            mx.amp.reset()


def _silent(*_):
    pass


def _fit(net, trainer, loader, val, test, epochs, device, out, model, progress, log, run_dir,
         use_amp, kv=None, sampler=None):
    (x_val, y_val), (x_test, y_test) = val, test
    if use_amp:
        mx.amp.init_trainer(trainer)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    run_dir = run_dir or os.path.join("runs", f"digits-{model}")
    os.makedirs(run_dir, exist_ok=True)
    out = out or os.path.join(run_dir, "best.params")
    if epochs <= 0 and not os.path.exists(out):
        raise SystemExit(f"--epochs {epochs}: nothing to score, no saved parameters at {out}; "
                         "train first (--epochs 1 or more) or point --run-dir/--name at a "
                         "run that has them")
    history = []
    bar_factory = _progress_bar if progress else None
    best_val, best = -1.0, None
    writes = kv is None or kv.rank == 0
    for epoch in range(1, epochs + 1):
        if sampler is not None:
            sampler.set_epoch(epoch)
        metric = gluon.metric.Accuracy()
        bar = bar_factory(len(loader), f"epoch {epoch}/{epochs}") if bar_factory else None
        start = time.perf_counter()
        seen = 0
        loss_sum = 0.0
        for data, label in loader:
            data = data.to_device(device)
            label = label.to_device(device)
            with autograd.record():
                output = net(data)
                loss = loss_fn(output, label)
                if use_amp:
                    with mx.amp.scale_loss(loss, trainer) as scaled:
                        autograd.backward(scaled)
            if not use_amp:
                loss.backward()
            trainer.step(data.shape[0])
            metric.update(label, output)
            loss_sum = loss_sum + loss.sum()
            seen += data.shape[0]
            if bar is not None:
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{float(loss.mean()):.4f}", samples_per_s=f"{rate:.0f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        if kv is not None:
            metric.allreduce(kv)
        val_acc = accuracy(net, x_val, y_val, device)
        history.append({"epoch": epoch, "loss": float(loss_sum) / max(seen, 1),
                        "train_accuracy": metric.get()[1], "val_accuracy": val_acc})
        log(f"epoch {epoch}: train accuracy {metric.get()[1]:.4f}, validation accuracy "
            f"{val_acc:.4f} ({seen / (time.perf_counter() - start):.0f} samples/s)")
        if val_acc > best_val:
            best_val = val_acc
            best = {name: p.data().copy() for name, p in net.collect_params().items()}
            if writes:
                net.save_parameters(out)
    if best is None:
        net.load_parameters(out, device=device)
    else:  # every rank holds the same parameters: restore them without reading rank 0's file
        for name, p in net.collect_params().items():
            p.set_data(best[name])
    test_acc = accuracy(net, x_test, y_test, device)
    if history:
        log(f"best validation accuracy {best_val:.4f}; test accuracy {test_acc:.4f} "
            f"(parameters saved to {out})")
    else:
        log(f"test accuracy {test_acc:.4f} (saved parameters from {out})")
    curve = write_curve(history, run_dir, log) if history and writes else None
    return {"best_val_accuracy": best_val, "test_accuracy": test_acc, "params_file": out,
            "curve": curve, "history": history}


def write_curve(history, run_dir, log=print):
    """Loss and accuracy per epoch as curve.json and curve.csv, and curve.png when
    matplotlib is installed; returns the paths written."""
    paths = {"json": os.path.join(run_dir, "curve.json"),
             "csv": os.path.join(run_dir, "curve.csv")}
    series = {key: [row[key] for row in history] for key in history[0]}
    with open(paths["json"], "w") as f:
        json.dump(series, f, indent=1)
    with open(paths["csv"], "w") as f:
        f.write(",".join(series) + "\n")
        for row in history:
            f.write(",".join(str(row[key]) for key in series) + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log(f"training curve written to {paths['csv']} and {paths['json']} (no PNG: matplotlib "
            "is not installed; pip install matplotlib)")
        return paths
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(series["epoch"], series["loss"], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="training loss")
    ax_acc.plot(series["epoch"], series["train_accuracy"], marker="o", label="train")
    ax_acc.plot(series["epoch"], series["val_accuracy"], marker="o", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy")
    ax_acc.legend()
    fig.tight_layout()
    paths["png"] = os.path.join(run_dir, "curve.png")
    fig.savefig(paths["png"])
    plt.close(fig)
    log(f"training curve plotted to {paths['png']} (data in {paths['csv']})")
    return paths


def _progress_bar(total, desc):
    try:
        from tqdm import tqdm
    except ImportError as err:
        raise SystemExit("this example needs tqdm: pip install 'mxlite[examples]'") from err
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)


EXPECTED_ACCURACY = 0.95  # what the default CNN reaches on this split in 10 epochs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10,
                        help="passes over the training set (0: only score saved parameters)")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per step")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                        help="where to train; auto takes gpu(0) when usable")
    parser.add_argument("--seed", type=int, default=0, help="seed for the split and the init")
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn", help="network")
    parser.add_argument("--name", default=None,
                        help="run name, outputs go to RUN_DIR/NAME (None: digits-MODEL)")
    parser.add_argument("--run-dir", default="runs", help="folder holding the run folders")
    parser.add_argument("--out", default=None,
                        help="where to save the best parameters (None: best.params in the "
                             "run folder)")
    parser.add_argument("--amp", choices=("float16", "bfloat16"), default=None,
                        help="train with mixed precision (mx.amp) in this dtype")
    parser.add_argument("--kvstore", default=None,
                        help="'dist_sync' trains data-parallel over the ranks of mpirun "
                             "(python -m mxlite.distributed.launch -n 2 -- python -m "
                             "mxlite.examples.train --kvstore dist_sync)")
    parser.add_argument("--profile", action="store_true",
                        help="write an mx.profiler trace (profile.json) into the run folder")
    args = parser.parse_args(argv)
    run_dir = os.path.join(args.run_dir, args.name or f"digits-{args.model}")
    kv = mx.kv.create(args.kvstore) if args.kvstore else None
    rank = kv.rank if kv is not None else 0
    device = pick_device(args.device, rank)
    if kv is not None and kv.num_workers > 1:
        print(f"rank {rank} of {kv.num_workers} ({args.kvstore}) training on {device}"
              + (f"; outputs in {run_dir}" if rank == 0 else ""))
    else:
        print(f"training on {device}; outputs in {run_dir}")
    if args.profile:
        os.makedirs(run_dir, exist_ok=True)
        mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                               filename=os.path.join(run_dir, "profile.json"))
        mx.profiler.set_state("run")
    try:
        result = train(args.epochs, args.batch_size, args.lr, device, args.seed, args.out,
                       args.model, run_dir=run_dir, amp=args.amp, kvstore=kv)
    finally:
        if args.profile:
            mx.profiler.set_state("stop")
            print(f"profiler trace written to {mx.profiler.dump()} (open it in "
                  "https://ui.perfetto.dev)")
    if result["test_accuracy"] < EXPECTED_ACCURACY:
        if rank == 0:
            print(f"test accuracy {result['test_accuracy']:.4f} is below the expected "
                  f"{EXPECTED_ACCURACY} (what the default settings reach); exiting with "
                  "status 1 - train longer (--epochs) or check the settings")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
