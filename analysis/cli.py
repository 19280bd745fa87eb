"""The ``privmoe`` command line (contract: ../shared/DESIGN.md, "The CLI contract").

    privmoe doctor                      versions, shim, backends usable; exit 0 iff all ok
    privmoe list [--json]
    privmoe costs NAME [--backend B] [--set key=value ...] [--network NET] [--json]
    privmoe verify NAME... | --all [--set key=value ...] [--examples N] [--seed S] [--mode threads|processes]
                   [--backend B] [--json]
    privmoe explain NAME [--set key=value ...] [--input NAME=JSON ...] [--seed S] [--json]
    privmoe report [--quick] [--all-security] [--out DIR] [--seed S] [--network BW,RTT]
    privmoe reproduce [--json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from analysis.progress import Progress
from functionalities.errors import PeerError, PrivMoEError


def parse_value(text: str) -> Any:
    """``--set`` values: true/false -> bool, then int, then float, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_sets(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        for item in pair.split():
            if "=" not in item:
                raise PrivMoEError(f"--set expects key=value, got {item!r}")
            key, value = item.split("=", 1)
            out[key.strip()] = parse_value(value)
    return out


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


# -- doctor ------------------------------------------------------------------------------------------
def cmd_doctor(args) -> int:
    checks: list[dict] = []

    def check(name: str, fn) -> None:
        try:
            detail = fn()
            checks.append({"check": name, "ok": True, "detail": detail})
        except Exception as exc:  # noqa: BLE001 - reported, exit code 1
            checks.append({"check": name, "ok": False, "detail": f"{type(exc).__name__}: {exc}"})

    check("python", lambda: platform.python_version())
    check("torch", _torch_version)
    check("crypten + shim", _crypten_version)
    check("tenseal / SEAL BFV", _seal_self_test)
    check("crypten backend (2-party run)", _mpc_roundtrip)
    check("cheetah calibration", _calibration)
    check("registry", lambda: ", ".join(e.name for e in _registry().all_entries()))
    ok = all(c["ok"] for c in checks)
    if args.json:
        _print_json({"ok": ok, "checks": checks})
    else:
        for c in checks:
            print(f"[{'ok' if c['ok'] else 'FAIL':>4}] {c['check']}: {c['detail']}")
    return 0 if ok else 1


def _torch_version() -> str:
    import torch

    if torch.version.cuda:
        raise RuntimeError(f"torch {torch.__version__} is a CUDA build; privmoe expects the CPU build")
    return torch.__version__


def _crypten_version() -> str:
    from protocols import crypten_shim

    if not crypten_shim.SHIM_ACTIVE:
        raise RuntimeError("torch.onnx.symbolic_registry shim is not registered")
    return f"crypten {crypten_shim.crypten.__version__}, shim active"


def _seal_self_test() -> str:
    from protocols.he.seal_backend import self_test

    return self_test()


def _mpc_roundtrip() -> str:
    import torch

    from analysis import harness

    entry = _registry().get("equal")
    params = entry.resolve({"n": 3})
    run = harness.run_real(entry, params, {"x": torch.tensor([1.0, 2.0, 3.0]), "y": torch.tensor([1.0, 0.0, 3.0])})
    if run.outputs.tolist() != [1, 0, 1]:
        raise RuntimeError(f"equal gave {run.outputs.tolist()}")
    return f"threads ok, {run.meter.rounds} rounds"


def _calibration() -> str:
    from analysis.cost_models import cheetah

    return str(cheetah.calibration_dir())


def _registry():
    from analysis import registry

    return registry


# -- list --------------------------------------------------------------------------------------------
def cmd_list(args) -> int:
    rows = [{"name": e.name, "functionality": e.functionality, "kind": e.kind, "backends": e.backends,
             "doc": e.doc, "negative_control": e.negative_control, "summary": e.summary}
            for e in _registry().all_entries()]
    if args.json:
        _print_json(rows)
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['kind']:<6} {r['functionality']:<10} {','.join(r['backends']):<16} {r['summary']}")
    return 0


# -- costs -------------------------------------------------------------------------------------------
def cmd_costs(args) -> int:
    entry = _registry().get(args.name)
    backend = args.backend or entry.backends[0]
    sets = parse_sets(args.set)
    if args.network:
        if "network" not in entry.defaults:
            raise PrivMoEError(f"{entry.name} has no top-t whose method a network could pick (--network is for "
                               "the protocols with a network parameter: topk, gate, cryptomoe.dispatch, the MoE layers)")
        sets["network"] = args.network
    params = entry.resolve(sets)
    cost = entry.cost(backend, params)
    obj = {"protocol": entry.name, "backend": backend, "params": params, "total": cost.to_dict(),
           "steps": cost.steps_list()}
    if args.measure:
        obj["measured"] = _measure(entry, backend, params)
        obj["model_equals_measured"] = all(obj["measured"][k] == obj["total"][k] for k in obj["measured"])
    if args.json:
        _print_json(obj)
        return 0
    import pandas as pd

    print(f"{entry.name} on {backend} with {params}")
    table = pd.DataFrame([{"step": "total", **obj["total"]}] + obj["steps"])
    cols = ["step"] + [c for c in table.columns if c != "step" and table[c].any()]
    print(table[cols].to_string(index=False))
    if args.measure:
        print("measured:", obj["measured"], "equal to the model" if obj["model_equals_measured"] else "DIFFERS")
    return 0 if obj.get("model_equals_measured", True) else 1


def _measure(entry, backend: str, params: dict) -> dict:
    """Run the protocol on zero inputs and return the measured metrics the model is compared on.

    HE entries on ``sim`` run the count-only simulator (any size, seconds); MPC entries run CrypTen."""
    import time

    import torch

    from analysis import harness

    # zero inputs as broadcast views of one zero: no memory at any size (the server's weights at the rebuttal's
    # dims would be 2 GB); a protocol that writes into its input copies it first
    zeros = {s.name: torch.zeros((), dtype=torch.long if s.integer else torch.float64).expand(s.shape)
             for s in entry.input_specs(params)}
    start = time.perf_counter()
    if entry.kind == "he":            # two parties on the wire; ``sim``: the simulator without values
        run = harness.run_real(entry, params, zeros, backend="sim-count" if backend == "sim" else backend,
                               timeout=600)
        metrics = harness.HE_COMPARED
    else:
        run = harness.run_real(entry, params, zeros, timeout=600)
        metrics = harness.COMPARED
    got = harness.measured(run)
    print(f"measured in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return {m: int(got[m]) for m in metrics}


# -- verify ------------------------------------------------------------------------------------------
def cmd_verify(args) -> int:
    from analysis import harness

    reg = _registry()
    if args.all:
        entries = reg.all_entries()
    elif args.names:
        entries = [reg.get(n) for n in args.names]
    else:
        raise PrivMoEError("name at least one protocol, or --all")
    sets = parse_sets(args.set)
    # --set pins the public parameters (every entry named resolves them, bad keys refused before any run)
    pinned = {entry.name: entry.resolve(sets) for entry in entries} if sets else {}
    report, failed = [], False
    progress = Progress(len(entries), "verify", quiet=args.json)
    for entry in entries:
        backend = args.backend if args.backend in entry.costs else None   # others: their default
        results = harness.verify(entry, examples=args.examples, seed=args.seed, mode=args.mode, backend=backend,
                                 security_runs=args.security_runs, params=pinned.get(entry.name))
        ok = all(r.passed for r in results)
        caught = None
        if entry.negative_control:   # a control must be CAUGHT by some check
            caught = not ok
            failed |= not caught
        else:
            failed |= not ok
        report.append({"protocol": entry.name, "backend": backend or harness.default_backend(entry), "passed": ok, "negative_control": entry.negative_control,
                       "caught": caught, "params": pinned.get(entry.name), "checks": [r.to_dict() for r in results]})
        progress.advance()
    progress.close()
    if args.json:
        _print_json({"ok": not failed, "seed": args.seed, "examples": args.examples, "protocols": report})
    else:
        for item in report:
            status = "PASS" if item["passed"] else "FAIL"
            if item["negative_control"]:
                status = "CAUGHT" if item["caught"] else "NOT CAUGHT"
            print(f"{status:>10}  {item['protocol']}")
            for c in item["checks"]:
                print(f"{'':>12}{'ok  ' if c['passed'] else 'FAIL'} {c['check']} ({c['examples']} "
                      f"{'runs' if c['check'].startswith('security') else 'examples'})")
                for f in c["failures"]:
                    print(f"{'':>17}{f}")
    return 1 if failed else 0


# -- explain -----------------------------------------------------------------------------------------
def cmd_explain(args) -> int:
    from analysis import explain

    w = explain.walk(args.name, parse_sets(args.set), args.seed, explain.parse_inputs(args.input))
    print(explain.to_json(w) if args.json else explain.render(w))
    return 0


# -- run ---------------------------------------------------------------------------------------------
def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be a non-negative integer, got {text!r}")
    return value


def cmd_run(args) -> int:
    from analysis import remote_run

    if args.selftest:
        return remote_run.selftest(args.name, args.seed, args.timeout)
    if not (args.party and args.peer and args.name):
        raise PrivMoEError("give --party client|server, --peer HOST:PORT and a protocol name (or --selftest)")
    if args.party == "dealer":
        raise PrivMoEError("the dealer runs beside the server, in its process: start only client and server")
    host, _, port = args.peer.rpartition(":")
    if not host or not port.isdigit():
        raise PrivMoEError(f"--peer must be HOST:PORT, got {args.peer!r}")
    result = remote_run.run_party(args.party, host, int(port), args.name, parse_sets(args.set), args.seed,
                                  args.timeout)
    print(json.dumps(result, indent=2, default=str) if args.json else remote_run.render(result))
    return 0 if result.get("output_check", "ok") == "ok" else 1


# -- reproduce ---------------------------------------------------------------------------------------
def cmd_reproduce(args) -> int:
    from analysis import reproduce

    table = reproduce.table()
    logged = reproduce.logged_runs()
    if args.json:
        _print_json({"published": json.loads(table.to_json(orient="records")),
                     "logged_runs": json.loads(logged.to_json(orient="records"))})
        return 0
    print("# The papers' published numbers, privmoe's paper and protocol accountings\n")
    print(reproduce.markdown(table))
    print("\n# The authors' logged runs beside privmoe's paper accounting (ratio = privmoe / logged)\n")
    print(logged.to_markdown(index=False, floatfmt=".3f"))
    return 0


# -- report ------------------------------------------------------------------------------------------
def cmd_report(args) -> int:
    from analysis import report

    from simulators.network import Network

    net = Network.parse(args.network) if args.network else None
    out = report.write_report(args.out, quick=args.quick, seed=args.seed, network=net,
                              all_security=args.all_security)
    print(f"report written to {out}")
    return 0


SET_HELP = ("public parameters as key=value (several after one --set, or --set repeated; aliases such as "
            "t=capacity, E=experts); unknown keys are refused by name")
JSON_HELP = "print one JSON document on stdout instead of text"
SEED_HELP = "non-negative seed of every random draw (same seed, same run)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="privmoe", description="private MoE inference protocols: spec, run, test, cost")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           help="one of the commands below; `privmoe COMMAND -h` for its options")
    d = sub.add_parser("doctor", help="versions, shim, backends usable")
    d.add_argument("--json", action="store_true", help=JSON_HELP + ": {ok, checks: [{check, ok, detail}]}")
    d.set_defaults(func=cmd_doctor)
    lst = sub.add_parser("list", help="registered protocols")
    lst.add_argument("--json", action="store_true",
                     help=JSON_HELP + ": one object per protocol (name, functionality, kind, backends, doc, ...)")
    lst.set_defaults(func=cmd_list)
    c = sub.add_parser("costs", help="analytic cost at any scale (instant)")
    c.add_argument("name", help="a registered protocol (`privmoe list`)")
    c.add_argument("--backend", help="crypten | cheetah (MPC); seal | sim (HE); default: the protocol's first")
    c.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE", help=SET_HELP)
    c.add_argument("--json", action="store_true",
                   help=JSON_HELP + ": {protocol, backend, params, total, steps}, every metric")
    c.add_argument("--network", help="LAN | WAN | BW_Mbps,RTT_ms: a top-t left at method auto is picked by its "
                   "modelled latency on this link (the same as --set network=...)")
    c.add_argument("--measure", action="store_true",
                   help="also run the protocol (HE on sim: the count-only simulator, any size) and compare")
    c.set_defaults(func=cmd_costs)
    v = sub.add_parser("verify", help="ideal vs real on Hypothesis-drawn inputs; exit 1 on any failure")
    v.add_argument("names", nargs="*", metavar="NAME", help="registered protocols to verify (or --all)")
    v.add_argument("--all", action="store_true", help="every registered protocol, negative controls included")
    v.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                   help="pin public parameters (any size; each protocol named resolves them, as costs and "
                        "explain do): Hypothesis then draws only the inputs. Default: small drawn parameters")
    v.add_argument("--examples", type=int, default=10, help="Hypothesis examples per protocol (default 10)")
    v.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0): the same seed draws the same examples")
    v.add_argument("--mode", choices=["threads", "processes"], default="threads",
                   help="the two parties as threads (default) or as processes over gloo on loopback")
    v.add_argument("--backend", help="seal | sim for HE protocols (default: their first); MPC ones use crypten")
    v.add_argument("--security-runs", type=int, default=6,
                   help="runs per family of views for the simulator checks (0 skips them)")
    v.add_argument("--json", action="store_true",
                   help=JSON_HELP + ": {ok, seed, examples, protocols: [{protocol, passed, params, checks}]}")
    v.set_defaults(func=cmd_verify)
    rn = sub.add_parser("run", help="one party of a run against a peer on another host (or --selftest)")
    rn.add_argument("name", nargs="?", help="the protocol to run (with --selftest, default: topk, cryptomoe.matmul and secmoe.moe)")
    rn.add_argument("--party", choices=["client", "server", "dealer"],
                    help="the party this process plays (the dealer runs inside the server)")
    rn.add_argument("--peer", help="HOST:PORT: the server listens there, the client connects there")
    rn.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                    help=SET_HELP + "; both parties must give the same")
    rn.add_argument("--seed", type=_seed, default=0, help=SEED_HELP + "; both parties must give the same")
    rn.add_argument("--timeout", type=float, default=30.0,
                    help="seconds to wait for the peer, at connection and for each message (default 30)")
    rn.add_argument("--json", action="store_true", help=JSON_HELP + ": this party's result")
    rn.add_argument("--selftest", action="store_true", help="both parties here, over loopback sockets")
    rn.set_defaults(func=cmd_run)
    x = sub.add_parser("explain", help="step-by-step walk-through on tiny inputs")
    x.add_argument("name", help="a registered protocol (`privmoe list`)")
    x.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                   help=SET_HELP + " (default: tiny sizes)")
    x.add_argument("--input", nargs="+", action="extend", metavar="NAME=JSON",
                   help="walk your own secret inputs: NAME as in the protocol's input specs, JSON a nested list "
                        "of its shape and type, e.g. --input 'x=[[1,2],[3,4]]' 'K=[[0,2],[1,2]]' (inputs not "
                        "given are drawn; each is checked, as the protocol checks it, before anything runs)")
    x.add_argument("--seed", type=int, default=0, help="seed of the drawn inputs and the parties' randomness (default 0)")
    x.add_argument("--json", action="store_true", help=JSON_HELP + ": every step, message, share and value")
    x.set_defaults(func=cmd_explain)
    rp = sub.add_parser("reproduce", help="the papers' published numbers beside privmoe's paper and protocol "
                                          "accountings, each deviation with its cause")
    rp.add_argument("--json", action="store_true", help="every row and column as JSON")
    rp.set_defaults(func=cmd_reproduce)
    r = sub.add_parser("report", help="report.md + PNG plots + costs.csv + manifest.json")
    r.add_argument("--quick", action="store_true",
                   help="fewer runs per security check and smaller runs: about a minute on 2 cores")
    r.add_argument("--all-security", action="store_true",
                   help="run the security checks of EVERY protocol and control live in §6 (about 15 minutes on 2 "
                        "cores; by default a representative set runs live and the rest is the benchmarks' "
                        "recorded tables; tests/test_security.py runs them all in CI)")
    r.add_argument("--out", default="report", help="the directory to write into (default: report)")
    r.add_argument("--seed", type=int, default=0, help="seed of every drawn example and run (default 0)")
    r.add_argument("--network", help="an extra link for the latency columns: BW_Mbps,RTT_ms (LAN and WAN are always shown)")
    r.set_defaults(func=cmd_report)
    return p


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe whose reader has closed it (or when that cannot be told: then a
    BrokenPipeError is taken to be stdout's, as the usual recipe does)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):   # no poll (Windows), or stdout has no descriptor
        return True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        # flushed here, not at interpreter exit: a reader that went away shows up in this try
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # the reader went away (``privmoe list --json | head -1``): stop quietly, as a filter does; the
        # rest of the output goes to /dev/null so the interpreter's own exit flush cannot fail again.
        # A BrokenPipeError of anything else (a peer's socket) is a real error.
        if not _stdout_reader_gone():
            raise
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (PrivMoEError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc    # no KeyError repr quotes
        print(f"privmoe: error: {message}", file=sys.stderr)
        return 1 if isinstance(exc, (PeerError,)) or type(exc).__name__ == "HandshakeError" else 2


if __name__ == "__main__":
    sys.exit(main())
