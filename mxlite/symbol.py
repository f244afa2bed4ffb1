"""Symbolic variables: the named placeholders MXNet's symbol API is built from.

mxlite runs every graph imperatively on the autograd tape, so it has no symbolic operators;
what remains useful is the variable itself, a name with attributes (shape, dtype, lr/wd
multipliers, initializer) that ``Parameter.var()`` returns for code that inspects them.
"""

__all__ = ["Variable", "var"]


class Variable:
    """A named placeholder with MXNet's attribute API (``name``, ``attr``, ``list_attr``)."""

    def __init__(self, name, attr=None, shape=None, dtype=None, lr_mult=None, wd_mult=None,
                 init=None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a variable needs a non-empty string name, got {name!r}")
        self.name = name
        self._attrs = dict(attr or {})
        for key, value in (("__shape__", shape), ("__dtype__", dtype),
                           ("__lr_mult__", lr_mult), ("__wd_mult__", wd_mult),
                           ("__init__", init)):
            if value is not None:
                self._attrs[key] = str(value)

    def attr(self, key):
        """The attribute ``key`` as a string, or None (MXNet's ``Symbol.attr``)."""
        return self._attrs.get(key)

    def list_attr(self):
        return dict(self._attrs)

    def list_arguments(self):
        return [self.name]

    def __repr__(self):
        return f"<Symbol {self.name}>"


var = Variable
