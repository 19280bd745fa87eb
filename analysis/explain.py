"""``privmoe explain NAME``: a protocol walked through on tiny inputs, for teaching.

Built from the registry alone (no per-protocol script): the entry's spec, real protocol, cost model, and
whatever intermediates the protocol ``trace``s (``protocols/mpc/sharing.trace``) beside the spec's
``intermediates``. For every labelled step, in order: the messages (who -> whom, bytes, round), the values
the parties saw opened, the traced intermediates -- each party's SHARE and the reconstructed value beside
the ideal one -- and the step's cost from the model and from the Meter. Then the outputs.
"""
from __future__ import annotations

import json
from typing import Any

import torch

from analysis import harness, registry, runs
from functionalities.errors import FixedPointRangeError, PrivMoEError, ShapeError

#: teaching sizes, applied to the public parameters an entry has unless ``--set`` says otherwise
TINY = {"tokens": 4, "experts": 3, "top_k": 2, "capacity": 2, "hidden": 2, "ffn": 2, "rows": 2, "length": 5,
        "t": 2, "n": 4, "classes": 4, "width": 2, "d_in": 4, "d_out": 4, "he_backend": "sim"}
SHOW = 8   # values shown per tensor


def _short(t: torch.Tensor, scale: int = 1) -> list:
    v = t.reshape(-1)[:SHOW]
    return [round(float(x) / scale, 4) if scale > 1 else int(x) for x in v]


def parse_inputs(pairs: list[str] | None) -> dict[str, Any]:
    """``--input NAME=JSON`` arguments -> {name: nested list}; bad syntax or JSON is a named error."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise PrivMoEError(f"--input expects NAME=JSON (e.g. 'x=[[1,2],[3,4]]'), got {pair!r}")
        key, text = (part.strip() for part in pair.split("=", 1))
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PrivMoEError(f"--input {key}: not valid JSON ({exc.msg} at column {exc.colno}): {text!r}") from None
    return out


def _numbers_only(name: str, value: Any) -> None:
    if isinstance(value, (list, tuple)):
        for v in value:
            _numbers_only(name, v)
    elif isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise FixedPointRangeError(f"input {name}: expected numbers (a nested list of them), got {value!r}")


def _given_inputs(entry, params: dict, given: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The user's inputs as tensors, each checked against the entry's InputSpec (name, shape, integer)."""
    specs = {s.name: s for s in entry.input_specs(params)}
    out = {}
    for key, value in given.items():
        if key not in specs:
            raise PrivMoEError(f"{entry.name}: no secret input {key!r} (inputs: {', '.join(specs)})")
        spec = specs[key]
        if isinstance(value, torch.Tensor):
            t = value.detach().clone()
        else:
            _numbers_only(key, value)
            try:
                t = torch.tensor(value)
            except (ValueError, TypeError) as exc:      # ragged lists
                raise ShapeError(f"input {key}: not a rectangular nested list ({exc})") from None
            except RuntimeError as exc:                 # an integer beyond int64
                raise FixedPointRangeError(f"input {key}: a value out of range ({exc})") from None
        if tuple(t.shape) != tuple(spec.shape):
            raise ShapeError(f"input {key}: expected shape {tuple(spec.shape)} (from the public parameters), "
                             f"got {tuple(t.shape)}")
        if spec.integer:
            if t.is_floating_point() and not bool(torch.all(torch.isfinite(t) & (t == t.round()))):
                raise FixedPointRangeError(f"input {key}: expected integers, got {t.tolist()}")
            t = t.to(torch.int64)
        else:
            t = t.to(torch.float64)
        out[key] = t
    return out


def walk(name: str, sets: dict | None = None, seed: int = 0, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    """The walk-through as data (what ``--json`` prints). ``inputs`` gives secret inputs by their InputSpec
    name (nested lists or tensors); the others are drawn with ``seed``. Everything goes through the
    entry's own validation before any party runs."""
    from analysis.strategies import draw_example_inputs
    from protocols.mpc.sharing import reconstruct
    from protocols.runtime import run_two_party

    entry = registry.get(name)
    tiny = {k: v for k, v in TINY.items() if k in entry.defaults}
    params = entry.resolve({**tiny, **(sets or {})})
    given = _given_inputs(entry, params, inputs or {})
    inputs = {**draw_example_inputs(entry, params, seed), **given}
    if given:
        entry.validate(params, inputs)
    owners = {s.name: s.owner for s in entry.input_specs(params)}
    ideal = entry.ideal(params, inputs)
    spec_mid = entry.intermediates(params, inputs) if entry.intermediates else {}
    backend = harness.default_backend(entry)
    model = entry.cost(backend, params) if backend in entry.costs else None
    out: dict[str, Any] = {"protocol": name, "summary": entry.summary, "params": params, "seed": seed,
                           "inputs": {k: {"owner": "client" if owners[k] == 0 else "server", "values": _short(v)
                                          if not v.is_floating_point() else [round(float(x), 4) for x in v.reshape(-1)[:SHOW]],
                                          "shape": list(v.shape), "given": k in given}
                                      for k, v in inputs.items()},
                           "leakage": list(entry.leakage), "backend": backend, "steps": []}
    own = [{k: v for k, v in inputs.items() if owners[k] == r} for r in (0, 1)]
    he = (backend,) if entry.kind == "he" else ()
    res = run_two_party(runs.party_fn, ((name, params, own[0]) + he, (name, params, own[1]) + he), seed=seed,
                        record_views=True, dealer=entry.dealer)
    meter, views, traces, shares = res.meter, res.meter.views, res.meter.traces, res.outputs
    real = reconstruct(*res.outputs)
    model_steps = dict(model.steps) if model is not None else {}
    for number, path in enumerate([p for p in meter.step_paths() if p != "setup" and p.count("/") <= 1], start=1):
        msgs = [m for m in meter.messages if (m.step == path or m.step.startswith(path + "/")) and m.phase != "setup"]
        by = {}
        for m in msgs:
            key = (m.round, m.direction, m.phase)
            by[key] = by.get(key, 0) + m.nbytes
        step = {"n": number, "step": path,
                "messages": [{"round": r, "from_to": d, "phase": ph, "bytes": b} for (r, d, ph), b in sorted(by.items())],
                "opened": [{"kind": it.kind, "from": it.sender, "values": _short(it.values)}
                           for it in (views.get("client") or []) if it.step == path and it.kind == "opened"][:3],
                "traces": [], "meter": harness.measured(meter, path)}
        if path in model_steps:
            step["model"] = {k: v for k, v in model_steps[path].to_dict().items() if k in harness.COMPARED}
        for (s0, n0, sh0, sc), (_, _, sh1, _) in zip(traces.get("client", []), traces.get("server", [])):
            if s0 == path or s0.startswith(path + "/"):
                value = (sh0 + sh1)
                item = {"name": n0, "client_share": _short(sh0), "server_share": _short(sh1),
                        "value": _short(value, sc) if sc > 1 else _short(value)}
                if n0 in spec_mid:
                    ideal_v = spec_mid[n0]
                    item["ideal"] = ([round(float(x), 4) for x in ideal_v.reshape(-1)[:SHOW]]
                                     if ideal_v.is_floating_point() else _short(ideal_v))
                step["traces"].append(item)
        out["steps"].append(step)

    def flat(o):
        return o if isinstance(o, (tuple, list)) else (o,)
    out["outputs"] = []
    for i, (r, want) in enumerate(zip(flat(real), flat(ideal))):
        item = {"output": i, "real": [round(float(x), 4) for x in r.reshape(-1)[:SHOW]],
                "ideal": [round(float(x), 4) for x in want.reshape(-1)[:SHOW]]}
        if shares is not None:
            a, b = flat(shares[0])[i], flat(shares[1])[i]
            item["client_share"], item["server_share"] = _short(a.share), _short(b.share)
        out["outputs"].append(item)
    out["total"] = {"meter": {k: v for k, v in harness.measured(meter).items() if k in harness.COMPARED},
                    "model": {k: v for k, v in model.to_dict().items() if k in harness.COMPARED} if model else None}
    return out


def render(w: dict) -> str:
    """The walk-through as text."""
    lines = [f"{w['protocol']} -- {w['summary']}",
             f"public parameters: {w['params']}   (leakage: {', '.join(w['leakage'])}; seed {w['seed']})", "",
             "inputs (each party holds only its own):"]
    for k, v in w["inputs"].items():
        lines.append(f"  {v['owner']:>6} holds {k}: {v['values']}{' ...' if len(v['values']) == SHOW else ''}"
                     + ("   (given)" if v.get("given") else ""))
    lines.append("")
    for s in w["steps"]:
        lines.append(f"step {s['n']}: {s['step']}")
        msgs = s["messages"]
        shown = msgs if len(msgs) <= 14 else msgs[:8] + [None] + msgs[-4:]
        for m in shown:
            if m is None:
                lines.append(f"    ... {len(msgs) - 12} more messages ...")
                continue
            lines.append(f"    round {m['round']:>3}  {m['from_to']:<16} {m['bytes']:>8} bytes  ({m['phase']})")
        for o in s["opened"]:
            lines.append(f"    opened (masked, uniformly random): {o['values']}")
        for t in s["traces"]:
            lines.append(f"    {t['name']}: client's share {t['client_share']}")
            lines.append(f"    {' ' * len(t['name'])}  server's share {t['server_share']}")
            lines.append(f"    {' ' * len(t['name'])}  reconstructed  {t['value']}")
            if "ideal" in t:
                lines.append(f"    {' ' * len(t['name'])}  ideal (spec)   {t['ideal']}")
        cost = s["meter"]
        lines.append(f"    cost: Meter {cost['rounds']} rounds, {cost['bytes_client_to_server']} B c->s, "
                     f"{cost['bytes_server_to_client']} B s->c, {cost['offline_bytes']} B offline"
                     + (f" | model {s['model']['rounds']} rounds, {s['model']['bytes_client_to_server']} B c->s, "
                        f"{s['model']['bytes_server_to_client']} B s->c, {s['model']['offline_bytes']} B offline"
                        if "model" in s else ""))
        lines.append("")
    lines.append("outputs (opened only here, by the harness):")
    for o in w["outputs"]:
        if "client_share" in o:
            lines.append(f"  output {o['output']}: client's share {o['client_share']}")
            lines.append(f"            server's share {o['server_share']}")
        lines.append(f"  output {o['output']}: real  {o['real']}")
        lines.append(f"            ideal {o['ideal']}")
    lines.append(f"total: Meter {w['total']['meter']}")
    lines.append(f"       model {w['total']['model']}")
    return "\n".join(lines)


def to_json(w: dict) -> str:
    return json.dumps(w, indent=2, default=str)
