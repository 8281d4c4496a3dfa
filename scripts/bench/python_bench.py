"""Times the `npm run bench` workloads with the article's Python stack, in the same JSON schema.

    python scripts/bench/python_bench.py                 # all workloads, both Python backends
    python scripts/bench/python_bench.py --quick         # tiny sizes, for development
    python scripts/bench/python_bench.py --backends tf-python --workloads mc-predict --runs 3

Backends: `tf-python` (TensorFlow + TFP + tf_keras) and `torch-python` (CPU torch +
pytorch-grad-cam). One that cannot be imported is listed in `absent` with the reason; a workload
that fails is listed in `failed`. Writes `<out>/python-<time>.json` (schema: benchmarks/README.md)
and prints a table. See docs/parity.md.
"""

import argparse
import datetime
import json
import os
import shlex
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')  # Before TensorFlow loads: keep its banner out.
sys.dont_write_bytecode = True  # No __pycache__ in the repository.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PEAK_MEMORY_NOTE, Context, machine, time_runs  # noqa: E402

BACKENDS = {'tf-python': 'tf_workloads', 'torch-python': 'torch_workloads'}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--backends', default=','.join(BACKENDS), help='comma-separated: tf-python,torch-python')
    parser.add_argument('--workloads', default='', help='comma-separated names or name prefixes (default: all)')
    parser.add_argument('--quick', action='store_true', help='smallest sizes, fewest runs')
    parser.add_argument('--runs', type=int, help='timed runs (default 10, 3 with --quick, 1 for mc-predict-naive-loop)')
    parser.add_argument('--warmup', type=int,
                        help='warm-up runs (default 2, 1 with --quick, 0 for mc-predict-naive-loop)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--out', default='bench-results', help='folder of the JSON file')
    parser.add_argument('--serve', action='store_true',
                        help='answer JSON-line requests on stdin (setup, run, dispose) for an interleaved run')
    return parser.parse_args(argv)


def load_backend(name):
    """The backend's module, or the reason it cannot be used."""
    import importlib

    try:
        module = importlib.import_module(BACKENDS[name])
        return module, module.versions(), None
    except Exception as error:  # An absent backend is a result, never a crash.
        return None, {}, f'{type(error).__name__}: {error}'


def selected(workloads, patterns):
    if not patterns:
        return workloads
    return [w for w in workloads if any(w.name == p or w.name.startswith(p) for p in patterns)]


def first_given(*values):
    """The first value that is not None (0 counts as given)."""
    return next(v for v in values if v is not None)


def run_workload(backend, workload, args):
    """One (backend, workload) row, or raises with the reason it failed."""
    context = Context(backend=backend, quick=args.quick, seed=args.seed)
    prepared = workload.setup(context)
    try:
        runs = first_given(args.runs, 3 if args.quick else None, workload.runs, 10)
        warmup = first_given(args.warmup, 1 if args.quick else None, workload.warmup, 2)
        timing = time_runs(prepared, runs, warmup)
    finally:
        prepared.dispose()
    note = '; '.join(filter(None, [prepared.note, PEAK_MEMORY_NOTE]))
    return {'backend': backend, 'workload': workload.name, 'params': prepared.params, **timing, 'note': note}


def print_row(row):
    throughput = row['throughput']
    print(f"{row['backend']:<13} {row['workload']:<25} median {row['medianMs']:>10.1f} ms  "
          f"IQR {row['iqrMs']:>8.1f}  min {row['minMs']:>10.1f}  "
          f"{throughput['value']:>9.3f} {throughput['unit']}  {json.dumps(row['params'])}", flush=True)


def serve(args):
    """Times single runs on request, so `npm run bench -- --compare-python` can interleave them with
    tfjs' runs (A, B, A, B: a shared machine's load falls on both alike). One JSON object per line
    in each direction: {"cmd": "setup" | "run" | "dispose" | "versions", "backend", "workload"}.
    """
    modules, prepared = {}, {}

    def answer(request):
        cmd, backend = request['cmd'], request.get('backend', 'tf-python')
        if backend not in modules:
            module, backend_versions, reason = load_backend(backend)
            if module is None:
                raise RuntimeError(reason)
            modules[backend] = (module, backend_versions)
        module, backend_versions = modules[backend]
        key = (backend, request.get('workload'))
        if cmd == 'versions':
            return {'machine': machine(backend_versions)}
        if cmd == 'setup':
            workload = next(w for w in module.WORKLOADS if w.name == key[1])
            prepared[key] = workload.setup(Context(backend=backend, quick=args.quick, seed=args.seed))
            p = prepared[key]
            return {'params': p.params, 'throughput': {'items': p.items, 'unit': p.unit}, 'note': p.note}
        if cmd == 'run':
            start = time.perf_counter()
            prepared[key].run()
            return {'ms': (time.perf_counter() - start) * 1000}
        if cmd == 'dispose':
            prepared.pop(key).dispose()
            return {}
        raise ValueError(f'unknown cmd {cmd!r}')

    for line in sys.stdin:
        try:
            reply = answer(json.loads(line))
        except Exception as error:  # The caller reports it as that workload's failure.
            reply = {'error': f'{type(error).__name__}: {error}'.split('\n')[0]}
        print(json.dumps(reply), flush=True)
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.serve:
        return serve(args)
    patterns = [p for p in args.workloads.split(',') if p]
    report = {'results': [], 'absent': [], 'failed': []}
    versions = {}
    for backend in [b for b in args.backends.split(',') if b]:
        if backend not in BACKENDS:
            sys.exit(f'python_bench: --backends must list {", ".join(BACKENDS)}; got {backend!r}.')
        module, backend_versions, reason = load_backend(backend)
        versions.update(backend_versions)
        if module is None:
            report['absent'].append({'backend': backend, 'reason': reason})
            print(f'{backend}: absent ({reason})', flush=True)
            continue
        for workload in selected(module.WORKLOADS, patterns):
            try:
                row = run_workload(backend, workload, args)
            except Exception as error:
                traceback.print_exc()
                report['failed'].append({'backend': backend, 'workload': workload.name,
                                         'reason': f'{type(error).__name__}: {error}'})
                continue
            report['results'].append(row)
            print_row(row)
    payload = {
        'machine': machine(versions),
        'createdAt': datetime.datetime.now(datetime.UTC).isoformat(timespec='milliseconds'),
        'command': 'python ' + shlex.join(['scripts/bench/python_bench.py', *(sys.argv[1:] if argv is None else argv)]),
        'results': report['results'],
        'absent': report['absent'],
        **({'failed': report['failed']} if report['failed'] else {}),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = payload['createdAt'].replace(':', '-').split('.')[0]
    path = out / f'python-{stamp}.json'
    path.write_text(json.dumps(payload, indent=2) + '\n')
    print(f'wrote {path}')
    return 1 if report['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
