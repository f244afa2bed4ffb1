"""StochasticBlock: a HybridBlock whose forward can add loss terms with ``add_loss``."""
from functools import wraps

from ...block import HybridBlock

__all__ = ['StochasticBlock', 'StochasticSequential']


class StochasticBlock(HybridBlock):
    """Decorate ``forward`` with ``StochasticBlock.collectLoss``; each call then stores the
    terms passed to ``add_loss`` in ``self.losses`` (a Bayesian net's KL terms next to its
    output, for example)."""

    def __init__(self):
        super().__init__()
        self._losses = []
        self._losscache = []

    def add_loss(self, loss):
        self._losscache.append(loss)

    @staticmethod
    def collectLoss(func):
        @wraps(func)
        def inner(self, *args, **kwargs):
            self._losscache = []
            out = func(self, *args, **kwargs)
            collected, self._losscache = self._losscache, []
            return out, collected
        inner._collects_loss = True
        return inner

    def __call__(self, *args):
        if not getattr(type(self).forward, '_collects_loss', False):
            raise ValueError(f"{type(self).__name__}.forward must be decorated with "
                             "@StochasticBlock.collectLoss to use add_loss")
        out, losses = super().__call__(*args)
        self._losses = list(losses)
        return out

    @property
    def losses(self):
        return self._losses


class StochasticSequential(StochasticBlock):
    """Runs blocks in order; ``losses[i]`` holds the losses of the i-th StochasticBlock."""

    def __init__(self):
        super().__init__()
        self._layers = []

    def add(self, *blocks):
        for block in blocks:
            self._layers.append(block)
            self.register_child(block)

    @StochasticBlock.collectLoss
    def forward(self, x, *args):
        for block in self._layers:
            x = block(x, *args)
            args = ()
            if isinstance(x, (tuple, list)):
                x, args = x[0], tuple(x[1:])
            if isinstance(block, StochasticBlock):
                self.add_loss(block.losses)
        return tuple([x] + list(args)) if args else x

    def __len__(self):
        return len(self._layers)

    def __getitem__(self, key):
        return self._layers[key]
