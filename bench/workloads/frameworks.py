"""One small adapter per framework, so each workload is written once.

The adapters expose the same handful of primitives (arrays with gradients, recording,
backward, the math the workloads use) over mxlite, PyTorch and MXNet 1.x. Frameworks are
imported lazily: the MXNet worker runs in its own virtual environment, without mxlite or
torch.
"""
import contextlib

import numpy as np


class Mxlite:
    name = "mxlite"

    def __init__(self, gpu=False):
        import mxlite as mx
        self.mx = mx
        self.np = mx.np
        self.npx = mx.npx
        self.device = mx.gpu(0) if gpu else mx.cpu()
        self.version = mx.__version__

    def array(self, host, grad=False):
        x = self.np.array(host, dtype=host.dtype, device=self.device)
        if grad:
            x.attach_grad()
        return x

    def numpy(self, x):
        return x.asnumpy()

    def record(self):
        return self.mx.autograd.record()

    def pause(self):
        return self.mx.autograd.pause()

    def backward(self, y, head=None):
        y.backward(head)

    def grad(self, x):
        return x.grad

    def clear_grads(self, params):
        """Gradients are written (grad_req='write'), never accumulated: nothing to clear."""

    def sgd_(self, params, lr):
        with self.pause():
            for p in params:
                p -= lr * p.grad

    def sync(self):
        self.npx.waitall()

    def jit(self, fn):
        """The workload's computation as the framework runs it: imperatively, here."""
        return fn

    # math used by the workloads
    def tanh(self, x):
        return self.np.tanh(x)

    def sigmoid(self, x):
        return self.npx.sigmoid(x)

    def relu(self, x):
        return self.npx.relu(x)

    def abs(self, x):
        return self.np.abs(x)

    def sqrt(self, x):
        return self.np.sqrt(x)

    def matmul(self, a, b):
        return self.np.matmul(a, b)

    def softmax(self, x):
        return self.npx.softmax(x, axis=-1)

    def mean(self, x, axis=None, keepdims=False):
        return x.mean(axis=axis, keepdims=keepdims)

    def permute(self, x, axes):
        return self.np.transpose(x, axes)

    def reshape(self, x, shape):
        return x.reshape(shape)


class MxliteHybrid(Mxlite):
    """mxlite in graph mode: the computation is a hybridized HybridBlock (traced once,
    then run as a graph), and Gluon models are HybridSequential, hybridized."""
    name = "mxlite_hybrid"
    hybrid = True

    def jit(self, fn):
        gluon = self.mx.gluon

        class Computation(gluon.HybridBlock):
            def forward(self, *arrays):
                return fn(*arrays)
        block = Computation()
        block.hybridize()
        return block


class MXNet(Mxlite):
    """MXNet 1.9 in numpy mode: the same API as mxlite, imported from ``mxnet``."""
    name = "mxnet"

    def __init__(self, gpu=False):
        import mxnet as mx
        mx.npx.set_np()
        self.mx = mx
        self.np = mx.np
        self.npx = mx.npx
        self.device = mx.gpu(0) if gpu else mx.cpu()
        self.version = mx.__version__

    def array(self, host, grad=False):
        x = self.np.array(host, dtype=host.dtype, ctx=self.device)
        if grad:
            x.attach_grad()
        return x

    def record(self):
        return self.mx.autograd.record()

    def backward(self, y, head=None):
        y.backward(head)


class Torch:
    name = "torch"

    def __init__(self, gpu=False):
        import torch
        self.torch = torch
        self.device = torch.device("cuda" if gpu else "cpu")
        self.version = torch.__version__
        self._gpu = gpu

    def array(self, host, grad=False):
        return self.torch.tensor(host, device=self.device, requires_grad=grad)

    def numpy(self, x):
        return x.detach().cpu().numpy()

    def record(self):
        return self.torch.enable_grad()

    def pause(self):
        return self.torch.no_grad()

    def backward(self, y, head=None):
        y.backward(head)

    def grad(self, x):
        return x.grad

    def clear_grads(self, params):
        for p in params:
            p.grad = None

    def sgd_(self, params, lr):
        with self.torch.no_grad():
            for p in params:
                p -= lr * p.grad

    def sync(self):
        if self._gpu:
            self.torch.cuda.synchronize()

    def jit(self, fn):
        return fn

    def tanh(self, x):
        return self.torch.tanh(x)

    def sigmoid(self, x):
        return self.torch.sigmoid(x)

    def relu(self, x):
        return self.torch.relu(x)

    def abs(self, x):
        return self.torch.abs(x)

    def sqrt(self, x):
        return self.torch.sqrt(x)

    def matmul(self, a, b):
        return self.torch.matmul(a, b)

    def softmax(self, x):
        return self.torch.softmax(x, dim=-1)

    def mean(self, x, axis=None, keepdims=False):
        if axis is None:
            return x.mean()
        return x.mean(dim=axis, keepdim=keepdims)

    def permute(self, x, axes):
        return x.permute(*axes)

    def reshape(self, x, shape):
        return x.reshape(shape)


class Numpy:
    """Raw numpy, no autograd: the floor under mxlite's CPU per-op cost."""
    name = "numpy"

    def __init__(self, gpu=False):
        if gpu:
            raise ValueError("the raw numpy baseline is CPU only")
        self.version = np.__version__

    def array(self, host, grad=False):
        return np.array(host)

    def numpy(self, x):
        return np.asarray(x)

    def record(self):
        return contextlib.nullcontext()

    def pause(self):
        return contextlib.nullcontext()

    def sync(self):
        pass

    def jit(self, fn):
        return fn

    def tanh(self, x):
        return np.tanh(x)


FRAMEWORKS = {"mxlite": Mxlite, "mxlite_hybrid": MxliteHybrid, "torch": Torch, "mxnet": MXNet,
              "numpy": Numpy}


def available(name):
    """Whether ``name``'s package imports in this interpreter."""
    module = {"mxlite": "mxlite", "mxlite_hybrid": "mxlite", "torch": "torch",
              "mxnet": "mxnet", "numpy": "numpy"}[name]
    try:
        __import__(module)
    except Exception:
        return False
    return True
