"""The executor: a graph compiled, for one device, into generated Python.

Two forwards are generated: ``infer`` (nothing is recorded: intermediates die early, fused
elementwise steps write in place with ``out=``, and with ``static_alloc`` every planned
buffer is allocated once and reused across calls) and ``train`` (values are kept for the
backward; with ``static_alloc`` not cache-only aux). Under ``autograd.record()`` the whole
graph is one tape node; its backward walks the graph's op nodes in reverse with each op's
own backward, so gradients are the eager ones, and frees saved values as it goes. On a GPU,
fused nodes with a generated kernel (``mxlite.cuda.fused``) run as one launch each way.
With ``create_graph=True`` the walk reruns the forward through ``apply`` (so it records)
and uses the generic backward formulas, for higher-order gradients.
"""
import functools

import numpy as _np

from ..autograd import state as _state_module
from ..autograd.engine import sum_to
from ..autograd.op import Node, Op, apply
from ..cuda import fused, loader
from ..ndarray import wrap
from .ir import FusedNode, Ref
from .passes import plan_memory

__all__ = ["Program"]

_state = _state_module.state


def ufunc_of(op, kind):
    """numpy's ufunc an elementwise op's CPU forward is, or None (only those take ``out=``)."""
    if kind != 0 or op.elementwise is None or op.elementwise[1] is None:
        return None
    fn = getattr(_np, op.elementwise[1], None)
    return fn if isinstance(fn, _np.ufunc) and fn.nout == 1 else None


class _StepContext:
    """What one op's backward sees during the graph's backward walk (as the engine's)."""
    __slots__ = ("xp", "inputs", "out", "aux", "params", "need", "call")

    def slice_grad(self, scatter, g, key, shape):
        return self.call(scatter, g, key=key, shape=shape)

    def transposed_product(self, matmul, a, g):
        return matmul(self.xp, a.T, g)


class Program:
    """``graph`` compiled for ``device``; call it with the source arrays (ndarrays in
    ``graph.sources`` order) to get the flat outputs."""

    def __init__(self, graph, device, static_alloc=False):
        self.graph = graph
        self.device = device
        be = self.backend = device._backend or device.backend
        self.kind = be.kind
        self.steps = list(graph.op_nodes())
        self.keys = [f"{i}_{j}" for i, node in enumerate(graph.nodes)
                     for j in range(len(node.steps) if node.__class__ is FusedNode else 1)]
        self.step_node = [int(key.partition("_")[0]) for key in self.keys]  # step -> node
        self.group_steps = {}  # node index -> its step indices
        for k, i in enumerate(self.step_node):
            self.group_steps.setdefault(i, []).append(k)
        self.sources = graph.sources
        made = [o for n in self.steps for o in n.outs]
        made_set = set(made)
        self.node_outputs = list(dict.fromkeys(v for v in graph.outputs if v in made_set))
        self.op = Op("graph", None, self._backward_recorded, nout=max(len(self.node_outputs), 1),
                     anonymous=True)
        self.op.register(self.kind, backward=self._backward_raw)
        self.static_alloc = static_alloc
        self.kernels = self._group_kernels() if self.kind else {}
        self.buffers = None
        self.plan = plan_memory(graph, lambda op: ufunc_of(op, self.kind) is not None) \
            if static_alloc else None
        self.infer = self._generate(train=False)
        self.train = self._generate(train=True)
        self._needs = {}
        self._backwards = {}  # need pattern -> generated backward

    def _group_kernels(self):
        """node index -> GroupKernel for each fused node one generated kernel can run (on a
        GPU; see ``mxlite.cuda.fused``): one float dtype throughout, no op parameters."""
        kernels = {}
        meta = self.graph.meta
        for i, node in enumerate(self.graph.nodes):
            if node.__class__ is not FusedNode:
                continue
            made = {o: j for j, s in enumerate(node.steps) for o in s.outs}
            dtypes = {meta[v][1] for v in list(node.reads) + list(made)}
            if len(dtypes) != 1 or any(s.params for s in node.steps):
                continue
            steps = [(s.op.name, [("step", made[a.vid]) if a.__class__ is Ref and a.vid in made
                                  else ("read", node.reads.index(a.vid)) if a.__class__ is Ref
                                  else ("const", a) for a in s.args]) for s in node.steps]
            kernel = fused.group_kernel(steps, [meta[v][0] for v in node.reads],
                                        [made[o] for o in node.outs],
                                        [meta[o][0] for o in node.outs], dtypes.pop())
            if kernel is not None:
                kernels[i] = kernel
        return kernels

    # -- code generation -------------------------------------------------------------------
    def _generate(self, train):
        be, kind = self.backend, self.kind
        names = {"xp": be.xp, "AT": be.array_type, "AS": be.asarray, "SEED": be.next_seed,
                 "BUF": self._buffers}
        self._saved = []  # 'a<key>': aux, 's<key>': seed, kept by the training forward
        lines = [f"def run({', '.join(f'v{v}' for v in self.sources)}):"]
        if self.plan is not None and not train:
            lines.append("    B = BUF()")
        outputs = set(self.graph.outputs)
        defined = set(self.sources)
        for i, node in enumerate(self.graph.nodes):
            kernel = self.kernels.get(i)
            if kernel is not None:
                names[f"K{i}"] = functools.partial(kernel.forward, loader.load_generated, be.xp)
                lines.append(f"    ({''.join(f'v{o}, ' for o in node.outs)}) = "
                             f"K{i}({', '.join(f'v{r}' for r in node.reads)})")
                defined.update(node.outs)
                continue
            defined.update(o for s in getattr(node, "steps", (node,)) for o in s.outs)
            if node.__class__ is FusedNode and not train:
                self._emit_fused(lines, names, i, node, outputs)
                continue
            if not train and self.plan is not None and node.__class__ is not FusedNode:
                ufunc, out = ufunc_of(node.op, self.kind), self._planned(node.outs[0])
                if ufunc is not None and out is not None:
                    self._emit_ufunc(lines, names, f"{i}_0", node, ufunc, out)
                    continue
            for j, step in enumerate(node.steps if node.__class__ is FusedNode else (node,)):
                self._emit_step(lines, names, f"{i}_{j}", step, train)
        outs = "".join(f"v{v}, " for v in self.node_outputs)  # "()" when every output is a source
        if train:
            env = ", ".join(f"v{v}" if v in defined else "None"
                            for v in range(max(self.graph.meta) + 1))
            lines.append(f"    return ({outs}), [{env}], {{{', '.join(self._saved)}}}")
        else:
            lines.append(f"    return ({outs})")
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<graph {'train' if train else 'infer'}>", "exec"), names)
        return names["run"], source

    def _call_expr(self, names, key, step, train):
        impl = step.op.forward_impls[self.kind]
        names[f"F{key}"] = impl
        args = ["xp"]
        for j, a in enumerate(step.args):
            if j == step.op.seed_arg:
                args.append(f"s{key}" if train else "SEED()")
            elif a.__class__ is Ref:
                args.append(f"v{a.vid}")
            else:
                names[f"c{key}_{j}"] = a
                args.append(f"c{key}_{j}")
        if step.params:
            names[f"P{key}"] = step.params
            args.append(f"**P{key}")
        return f"F{key}({', '.join(args)})"

    def _emit_step(self, lines, names, key, step, train):
        op = step.op
        if train and op.seed_arg is not None:
            lines.append(f"    s{key} = SEED()")
            self._saved.append(f"'s{key}': s{key}")
        call = self._call_expr(names, key, step, train)
        outs = ", ".join(f"v{o}" for o in step.outs)
        target = f"({outs},)" if op.nout > 1 else outs
        if op.has_aux and train and op.aux_cache and self.static_alloc:
            lines.append(f"    {target} = {call}[0]")  # the backward recomputes the aux
        elif op.has_aux:
            lines.append(f"    {target}, a{key} = {call}")
            if train:
                self._saved.append(f"'a{key}': a{key}")
        else:
            lines.append(f"    {target} = {call}")
        for o in step.outs:
            if self.graph.meta[o][0] == ():  # numpy gives 0-d results as scalars
                lines.append(f"    if v{o}.__class__ is not AT: v{o} = AS(v{o})")

    def _emit_fused(self, lines, names, i, node, outputs):
        """Fused steps (inference): with a memory plan a step writes into its planned
        buffer; without one, over an intermediate of the group that it reads last (one this
        call's ufuncs made, so nothing else sees it); other steps allocate."""
        last_use = {}
        for k, s in enumerate(node.steps):
            for vid in s.reads:
                last_use[vid] = k
        keep = set(node.outs) | outputs
        fresh = set()  # intermediates a ufunc of this group made in this call
        for k, s in enumerate(node.steps):
            key = f"{i}_{k}"
            ufunc = ufunc_of(s.op, self.kind)
            out = None
            if ufunc is not None:
                vid = s.outs[0]
                if self.plan is not None:
                    out = self._planned(vid)
                elif self.graph.meta[vid][0] != ():
                    out = next((f"v{r}" for r in s.reads if r in fresh and r not in keep
                                and last_use[r] == k and self.graph.meta[r] ==
                                self.graph.meta[vid]), None)
                fresh.add(vid)
            if out is None:
                self._emit_step(lines, names, key, s, False)
            else:
                self._emit_ufunc(lines, names, key, s, ufunc, out)

    def _planned(self, vid):
        b = self.plan.assign.get(vid)
        return None if b is None else f"B[{b}]"

    def _emit_ufunc(self, lines, names, key, step, ufunc, out):
        names[f"U{key}"] = ufunc
        args = [f"v{a.vid}" if a.__class__ is Ref else self._const(names, key, j, a)
                for j, a in enumerate(step.args)]
        lines.append(f"    v{step.outs[0]} = U{key}({', '.join(args)}, out={out})")

    @staticmethod
    def _const(names, key, j, value):
        names[f"c{key}_{j}"] = value
        return f"c{key}_{j}"

    def _buffers(self):
        """The planned buffers, allocated on the first inference call and kept."""
        if self.buffers is None:
            with self.backend.scope():
                self.buffers = [self.backend.empty(shape, dtype)
                                for shape, dtype in self.plan.buffers]
        return self.buffers

    # -- running ---------------------------------------------------------------------------
    def run(self, sources):
        """The flat outputs (ndarrays) for ``sources`` (ndarrays), recorded when recording."""
        raw = [a._data for a in sources]
        in_graph = _state.recording and any(a._node is not None for a in sources)
        be = self.backend
        if in_graph:
            if self.kind:
                with be.scope():
                    outs, env, aux = self.train[0](*raw)
            else:
                outs, env, aux = self.train[0](*raw)
        elif self.kind:
            with be.scope():
                outs = self.infer[0](*raw)
        else:
            outs = self.infer[0](*raw)
        dev = self.device
        made = {}
        node = Node(self.op, tuple(sources), {}, None, (env, aux), be) if in_graph else None
        for k, (vid, r) in enumerate(zip(self.node_outputs, outs)):
            o = wrap(r, dev)
            if node is not None:
                o._node = node
                o._oidx = k
            made[vid] = o
        given = dict(zip(self.sources, sources))
        return [made[v] if v in made else given[v] for v in self.graph.outputs]

    # -- backward --------------------------------------------------------------------------
    def _need_plan(self, need):
        """Per op node, which of its arguments want a gradient (None: none do)."""
        plan = self._needs.get(need)
        if plan is None:
            wants = {v for v, n in zip(self.sources, need) if n}
            plan = []
            for step in self.steps:
                arg_need = [a.__class__ is Ref and a.vid in wants for a in step.args]
                if True in arg_need and step.op.differentiable:
                    wants.update(step.outs)
                    plan.append(arg_need)
                else:
                    plan.append(None)
            self._needs[need] = plan
        return plan

    def _head_grads(self, g):
        grads = {}
        gs = g if self.op.nout > 1 else (g,)
        for vid, gv in zip(self.node_outputs, gs):
            if gv is not None:
                grads[vid] = gv
        return grads

    def _backward_raw(self, ctx, g):
        """The graph's backward on backend arrays: generated per pattern of inputs that
        want a gradient (each op's own backward, in reverse)."""
        need = tuple(ctx.need)
        run = self._backwards.get(need)
        if run is None:
            run = self._backwards[need] = self._generate_backward(need)[0]
        env, aux = ctx.aux
        return run(env, aux, g, not ctx.retain)

    def _generate_backward(self, need):
        """Straight-line code: for each step that leads to a wanted gradient, set the shared
        step context, call the op's backward and add each input's gradient (cast to its
        dtype and summed to its shape, as the engine does) into ``g<value id>``. With
        ``free`` (the graph is not retained) each saved value is dropped after the last
        step that reads it, so the backward's peak is not every saved value at once."""
        be, kind, meta = self.backend, self.kind, self.graph.meta
        plan = self._need_plan(need)
        ctx = _StepContext()
        ctx.xp = be.xp
        ctx.call = lambda op, *args, **params: _raw_call(op, kind, be.xp, args, params)
        names = {"ctx": ctx, "xp": be.xp, "AT": be.array_type, "ASA": be.xp.asarray,
                 "sum_to": sum_to}
        lines = ["def backward(env, aux, g, free):"]
        released = {}  # step index -> what the walk no longer needs after it
        seen = set()
        for i, step in enumerate(self.steps):
            if plan[i] is not None:
                done = [f"env[{v}] = None" for v in step.reads + list(step.outs)
                        if v not in seen]
                seen.update(step.reads, step.outs)
                if step.op.has_aux:
                    done.append(f"aux.pop('a{self.keys[i]}', None)")
                released[i] = done

        def release(i):
            if released.get(i):
                lines.append("    if free:")
                lines.extend(f"        {r}" for r in released[i])
        heads = self.node_outputs
        if self.op.nout > 1:
            lines += [f"    g{v} = g[{k}]" for k, v in enumerate(heads)]
        else:
            lines.append(f"    g{heads[0]} = g")
        assigned = set(heads)

        def add_grad(body, vid, expr):
            """``g<vid> += expr`` as the engine adds: cast, summed to the value's shape."""
            shape, dtype = meta[vid]
            names[f"S{vid}"], names[f"D{vid}"] = shape, dtype
            body += [f"gi = {expr}", "if gi is not None:",
                     "    if gi.__class__ is not AT: gi = ASA(gi)",
                     f"    if gi.dtype != D{vid}: gi = gi.astype(D{vid})",
                     f"    if gi.shape != S{vid}: gi = sum_to(gi, S{vid})"]
            if vid in assigned:
                body.append(f"    g{vid} = gi if g{vid} is None else g{vid} + gi")
            else:
                body.append(f"    g{vid} = gi")
                lines.insert(1, f"    g{vid} = None")
                assigned.add(vid)

        for i in range(len(self.steps) - 1, -1, -1):
            node_index = self.step_node[i]
            if node_index in self.kernels:
                group = self.group_steps[node_index]
                if i == group[-1]:
                    self._emit_group_backward(lines, names, node_index, plan, assigned,
                                              add_grad)
                    for j in reversed(group):
                        release(j)
                continue
            arg_need = plan[i]
            if arg_need is None:
                continue
            step, key = self.steps[i], self.keys[i]
            op = step.op
            outs = [o for o in step.outs if o in assigned]
            if not outs:
                release(i)
                continue  # no gradient can reach this step
            if op.nout == 1:
                gout = f"g{step.outs[0]}"
                lines.append(f"    if {gout} is not None:")
            else:
                gout = "(" + ", ".join(f"g{o}" if o in assigned else "None"
                                       for o in step.outs) + ",)"
                lines.append(f"    if {' or '.join(f'g{o} is not None' for o in outs)}:")
            names[f"B{key}"] = op.backward_impls[kind]
            names[f"N{key}"] = arg_need
            names[f"P{key}"] = step.params
            inputs = []
            for j, a in enumerate(step.args):
                if a.__class__ is Ref:
                    inputs.append(f"env[{a.vid}]")
                else:
                    names[f"c{key}_{j}"] = a
                    inputs.append(f"c{key}_{j}")
            body = [f"ctx.inputs = [{', '.join(inputs)}]", f"ctx.need = N{key}",
                    f"ctx.params = P{key}"]
            if op.save_out:
                body.append("ctx.out = " + (f"env[{step.outs[0]}]" if op.nout == 1 else
                                            "(" + ", ".join(f"env[{o}]" for o in step.outs)
                                            + ",)"))
            if op.has_aux:
                body.append(f"ctx.aux = aux.get('a{key}')")
            body.append(f"r = B{key}(ctx, {gout})")
            for j, (a, wanted) in enumerate(zip(step.args, arg_need)):
                if wanted:
                    add_grad(body, a.vid, f"r[{j}]")
            for o in step.outs:  # release the output gradients once used
                body.append(f"g{o} = None")
            lines += [f"        {b}" for b in body]
            release(i)
        lines.append("    ctx.inputs = ctx.out = ctx.aux = None  # hold nothing past the walk")
        for v, wanted in zip(self.sources, need):
            if wanted and v not in assigned:
                lines.insert(1, f"    g{v} = None")
                assigned.add(v)
        lines.append("    return [" + ", ".join(f"g{v}" if v in assigned else "None"
                                               for v in self.sources) + "]")
        source = "\n".join(lines) + "\n"
        exec(compile(source, "<graph backward>", "exec"), names)
        return names["backward"], source

    def _emit_group_backward(self, lines, names, i, plan, assigned, add_grad):
        """A fused node's backward as its generated kernel: the gradients of its inputs
        from those of its outputs (the group recomputed inside, nothing saved)."""
        node = self.graph.nodes[i]
        heads = [o for o in node.outs if o in assigned]
        need = [False] * len(node.reads)
        for k in self.group_steps[i]:
            for a, wanted in zip(self.steps[k].args, plan[k] or ()):
                if wanted and a.vid in node.reads:
                    need[node.reads.index(a.vid)] = True
        if not heads or True not in need:
            return
        names[f"KB{i}"] = functools.partial(self.kernels[i].backward, loader.load_generated,
                                            self.backend.xp)
        names[f"KN{i}"] = tuple(need)
        gouts = ", ".join(f"g{o}" if o in assigned else "None" for o in node.outs)
        lines.append(f"    if {' or '.join(f'g{o} is not None' for o in heads)}:")
        body = [f"r = KB{i}(({gouts},), ({', '.join(f'env[{v}]' for v in node.reads)},), "
                f"KN{i})"]
        for k, v in enumerate(node.reads):
            if need[k]:
                add_grad(body, v, f"r[{k}]")
        body += [f"g{o} = None" for o in heads]
        lines += [f"        {b}" for b in body]

    def _backward_recorded(self, ctx, g):
        """``create_graph=True``: rerun the forward through ``apply`` (recorded) and walk the
        generic backward formulas on ndarrays."""
        _env, aux = ctx.aux
        xp = ctx.xp
        values = dict(zip(self.sources, ctx.inputs))
        outs_of = []
        for i, step in enumerate(self.steps):
            args = []
            for j, a in enumerate(step.args):
                if j == step.op.seed_arg:
                    args.append(aux[f"s{self.keys[i]}"])
                else:
                    args.append(values[a.vid] if a.__class__ is Ref else a)
            out = apply(step.op, tuple(args), step.params)
            outs = out if step.op.nout > 1 else (out,)
            values.update(zip(step.outs, outs))
            outs_of.append(out)
        grads = self._head_grads(g)
        plan = self._need_plan(tuple(ctx.need))
        meta = self.graph.meta
        step_ctx = _StepContext()
        step_ctx.xp = xp
        step_ctx.call = lambda op, *args, **params: apply(op, args, params)
        for i in range(len(self.steps) - 1, -1, -1):
            need = plan[i]
            if need is None:
                continue
            step = self.steps[i]
            op = step.op
            gout = grads.pop(step.outs[0], None) if op.nout == 1 else \
                tuple(grads.pop(o, None) for o in step.outs)
            if gout is None or (op.nout > 1 and all(x is None for x in gout)):
                continue
            step_ctx.inputs = [values[a.vid] if a.__class__ is Ref else a for a in step.args]
            step_ctx.out = outs_of[i]
            step_ctx.aux = aux.get(f"a{self.keys[i]}") if op.has_aux else None
            step_ctx.params = step.params
            step_ctx.need = need
            for a, gi, nd in zip(step.args, op.backward(step_ctx, gout), need):
                if not nd or gi is None:
                    continue
                if gi.shape != meta[a.vid][0]:
                    gi = sum_to(gi, meta[a.vid][0])
                prev = grads.get(a.vid)
                grads[a.vid] = gi if prev is None else prev + gi
        return [grads.get(v) for v in self.sources]


def _raw_call(op, kind, xp, args, params):
    res = op.forward_impls[kind](xp, *args, **params)
    return res[0] if op.has_aux else res
