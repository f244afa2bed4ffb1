"""What the Estimator does with one batch; subclass it to change a step without rewriting
the fit loop (multiple inputs, custom losses, gradient accumulation, ...)."""
from .... import autograd
from .... import numpy_extension as npx
from ...utils import split_and_load

__all__ = ["BatchProcessor"]


class BatchProcessor:
    """``fit_batch`` and ``evaluate_batch`` as the Estimator calls them; each returns
    ``(data, label, pred, loss)``, lists with one entry per device."""

    def _get_data_and_label(self, batch, device, batch_axis=0):
        data = split_and_load(batch[0], ctx_list=device, batch_axis=batch_axis)
        label = split_and_load(batch[1], ctx_list=device, batch_axis=batch_axis)
        return data, label

    def evaluate_batch(self, estimator, val_batch, batch_axis=0):
        """Forward ``val_net`` and ``val_loss`` on one validation batch, outside record()."""
        data, label = self._get_data_and_label(val_batch, estimator.device, batch_axis)
        pred = [estimator.val_net(x) for x in data]
        loss = [estimator.val_loss(y_hat, y) for y_hat, y in zip(pred, label)]
        return data, label, pred, loss

    def fit_batch(self, estimator, train_batch, batch_axis=0):
        """Forward and backward on one training batch; the update is the
        GradientUpdateHandler's, so handlers can act between backward and step."""
        data, label = self._get_data_and_label(train_batch, estimator.device, batch_axis)
        with autograd.record():
            pred = [estimator.net(x) for x in data]
            loss = [estimator.loss(y_hat, y) for y_hat, y in zip(pred, label)]
        for l in loss:
            l.backward()
        npx.waitall()
        return data, label, pred, loss
