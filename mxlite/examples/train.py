"""Train a small CNN on scikit-learn's handwritten digits (8x8 images, 10 classes).

    python -m mxlite.examples.train [--epochs N] [--batch-size B] [--lr LR]
                                    [--device auto|cpu|gpu] [--seed S] [--out PATH]

Runs on the GPU when one is usable, else on the CPU; shows a progress bar with the
loss and throughput, prints train/validation accuracy per epoch, keeps the parameters
with the best validation accuracy in ``--out`` and reports their test accuracy.
The data ships with scikit-learn (no download): ``pip install 'mxlite[examples]'``.
"""
import argparse
import os
import sys
import tempfile
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


def pick_device(name="auto"):
    """The requested device; 'auto' is gpu(0) when usable, else the CPU."""
    if name == "cpu":
        return mx.cpu()
    from mxlite.test_utils import gpu_unusable_reason
    reason = gpu_unusable_reason(0) if mx.device.num_gpus() > 0 else "no GPU found"
    if name == "gpu":
        if reason is not None:
            raise SystemExit(f"--device gpu: {reason}")
        return mx.gpu(0)
    return mx.gpu(0) if reason is None else mx.cpu()


def accuracy(net, images, labels, device, batch_size=512):
    metric = gluon.metric.Accuracy()
    for start in range(0, len(labels), batch_size):
        x = mx.np.array(images[start:start + batch_size], device=device)
        metric.update(labels[start:start + batch_size], net(x))
    return metric.get()[1]


def train(epochs=10, batch_size=64, lr=3e-3, device=None, seed=0, out=None, model="cnn",
          limit=None, progress=True, log=print):
    """Train and return a dict of the best validation and the final test accuracy.

    ``limit`` trains on the first ``limit`` training samples only (for quick checks).
    """
    device = device or mx.cpu()
    mx.np.random.seed(seed)
    np.random.seed(seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = load_digits_splits(seed)
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    loader = gluon.data.DataLoader(gluon.data.ArrayDataset(x_train, y_train),
                                   batch_size=batch_size, shuffle=True)
    net = build_net(model)
    net.initialize(mx.init.Xavier(), device=device)
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": lr})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    out = out or os.path.join(tempfile.gettempdir(), f"mxlite-digits-{model}.params")
    bar_factory = _progress_bar if progress else None
    best_val = -1.0
    for epoch in range(1, epochs + 1):
        metric = gluon.metric.Accuracy()
        bar = bar_factory(len(loader), f"epoch {epoch}/{epochs}") if bar_factory else None
        start = time.perf_counter()
        seen = 0
        for data, label in loader:
            data = data.to_device(device)
            label = label.to_device(device)
            with autograd.record():
                output = net(data)
                loss = loss_fn(output, label)
            loss.backward()
            trainer.step(data.shape[0])
            metric.update(label, output)
            seen += data.shape[0]
            if bar is not None:
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{float(loss.mean()):.4f}", samples_per_s=f"{rate:.0f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        val_acc = accuracy(net, x_val, y_val, device)
        log(f"epoch {epoch}: train accuracy {metric.get()[1]:.4f}, validation accuracy "
            f"{val_acc:.4f} ({seen / (time.perf_counter() - start):.0f} samples/s)")
        if val_acc > best_val:
            best_val = val_acc
            net.save_parameters(out)
    net.load_parameters(out, device=device)
    test_acc = accuracy(net, x_test, y_test, device)
    log(f"best validation accuracy {best_val:.4f}; test accuracy {test_acc:.4f} "
        f"(parameters saved to {out})")
    return {"best_val_accuracy": best_val, "test_accuracy": test_acc, "params_file": out}


def _progress_bar(total, desc):
    try:
        from tqdm import tqdm
    except ImportError as err:
        raise SystemExit("this example needs tqdm: pip install 'mxlite[examples]'") from err
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--out", default=None,
                        help="where to save the best parameters (.npz; default: a temp file)")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    print(f"training on {device}")
    result = train(args.epochs, args.batch_size, args.lr, device, args.seed, args.out,
                   args.model)
    return 0 if result["test_accuracy"] >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
