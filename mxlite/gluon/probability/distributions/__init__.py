"""Distributions, their constraints and KL divergences."""
from . import constraint, utils  # noqa: F401
from .distribution import Distribution  # noqa: F401
from .exp_family import ExponentialFamily  # noqa: F401
from .location_scale import (Normal, Laplace, Cauchy, Gumbel, HalfNormal,  # noqa: F401
                             HalfCauchy, Uniform, StudentT)
from .gamma_family import (Exponential, Gamma, Chi2, Beta, Dirichlet,  # noqa: F401
                           FisherSnedecor, Weibull, Pareto)
from .discrete import (Bernoulli, Binomial, NegativeBinomial, Geometric, Poisson,  # noqa: F401
                       Categorical, OneHotCategorical, Multinomial)
from .transformed_distribution import TransformedDistribution  # noqa: F401
from .relaxed import RelaxedBernoulli, RelaxedOneHotCategorical  # noqa: F401
from .multivariate_normal import MultivariateNormal  # noqa: F401
from .independent import Independent  # noqa: F401
from .divergence import register_kl, kl_divergence, empirical_kl, _register_all  # noqa: F401
from .utils import cached_property  # noqa: F401

_register_all()

__all__ = ["Distribution", "ExponentialFamily", "Normal", "Laplace", "Cauchy", "Gumbel", "HalfNormal", "HalfCauchy", "Uniform", "StudentT", "Exponential", "Gamma", "Chi2", "Beta", "Dirichlet", "FisherSnedecor", "Weibull", "Pareto", "Bernoulli", "Binomial", "NegativeBinomial", "Geometric", "Poisson", "Categorical", "OneHotCategorical", "Multinomial", "TransformedDistribution", "RelaxedBernoulli", "RelaxedOneHotCategorical", "MultivariateNormal", "Independent", "register_kl", "kl_divergence", "empirical_kl", "cached_property", "constraint", "utils"]
