"""Exponential-family distributions: p(x) = h(x) exp(<eta, T(x)> - A(eta))."""
from .distribution import Distribution

__all__ = ['ExponentialFamily']


class ExponentialFamily(Distribution):
    """Base of the distributions written in natural parameters ``eta`` with log-normalizer
    ``A``; subclasses give ``_natural_params``, ``_log_normalizer`` and
    ``_mean_carrier_measure`` (E[log h(x)]), which define the entropy
    ``A(eta) - <eta, E[T(x)]> - E[log h(x)]``."""

    @property
    def _natural_params(self):
        raise NotImplementedError(f"{type(self).__name__} does not define _natural_params")

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError(f"{type(self).__name__} does not define _log_normalizer")

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError(f"{type(self).__name__} does not define "
                                  "_mean_carrier_measure")
