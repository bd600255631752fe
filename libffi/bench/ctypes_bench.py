"""ctypes calls timed with `python3 -m timeit` on two libffi directories, alternating.

    python3 ctypes_bench.py [--quick] DROPIN_DIR SYSTEM_DIR

Each directory goes into LD_LIBRARY_PATH (absolute: timeit may change directory); an
empty one leaves the system's libffi. Each case first checks its result, then timeit runs
in a fresh interpreter per library and round; the best per-loop time of every library is
printed as `ctypes_CASE system=NS dropin=NS ratio=R` (R = dropin/system).
"""

import os
import re
import subprocess
import sys

SETUP = {
    "labs": """
import ctypes
f = ctypes.CDLL(None).labs
f.argtypes = [ctypes.c_long]
f.restype = ctypes.c_long
assert f(-5) == 5
""",
    # _testfunc_byval(point in, point *pout): a struct {int x, y} by value.
    "struct_arg": """
import ctypes, _ctypes_test
class POINT(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int)]
f = ctypes.CDLL(_ctypes_test.__file__)._testfunc_byval
f.argtypes = [POINT, ctypes.POINTER(POINT)]
f.restype = ctypes.c_int
p = POINT(101, 102)
assert f(p, None) == 203
""",
    # ldiv_t ldiv(long, long): a struct {long quot, rem} returned.
    "struct_return_ldiv": """
import ctypes
class LDIV(ctypes.Structure):
    _fields_ = [("quot", ctypes.c_long), ("rem", ctypes.c_long)]
f = ctypes.CDLL(None).ldiv
f.argtypes = [ctypes.c_long, ctypes.c_long]
f.restype = LDIV
r = f(17, 5)
assert (r.quot, r.rem) == (3, 2)
""",
    # qsort of 8 ints through a Python comparison (about a dozen callbacks per sort).
    "qsort_callback": """
import ctypes
CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
cmp = CMP(lambda a, b: a[0] - b[0])
qsort = ctypes.CDLL(None).qsort
qsort.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, CMP]
qsort.restype = None
src = [5, 3, 8, 1, 7, 2, 6, 4]
a = (ctypes.c_int * 8)(*src)
qsort(a, 8, 4, cmp)
assert list(a) == sorted(src)
""",
}
STMT = {
    "labs": "f(-5)",
    "struct_arg": "f(p, None)",
    "struct_return_ldiv": "f(17, 5)",
    "qsort_callback": "a[:] = src; qsort(a, 8, 4, cmp)",
}


def timeit(libdir, case, number, repeat):
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    cmd = [sys.executable, "-m", "timeit", "-n", str(number), "-r", str(repeat),
           "-s", SETUP[case], STMT[case]]
    out = subprocess.run(cmd, env=env, cwd="/tmp", check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"best of \d+: ([\d.]+) (nsec|usec|msec|sec) per loop", out)
    if not m:
        raise SystemExit(f"ctypes_bench: unexpected timeit output: {out!r}")
    scale = {"nsec": 1, "usec": 1e3, "msec": 1e6, "sec": 1e9}[m.group(2)]
    return float(m.group(1)) * scale


def main():
    args = sys.argv[1:]
    quick = bool(args) and args[0] == "--quick"
    if quick:
        args = args[1:]
    dropin, system = (os.path.abspath(a) for a in args)
    rounds, repeat = (1, 3) if quick else (5, 5)
    for case in SETUP:
        number = 20000 if case == "qsort_callback" else 200000
        if quick:
            number //= 10
        best = {"system": float("inf"), "dropin": float("inf")}
        for _ in range(rounds):
            for name, libdir in (("system", system), ("dropin", dropin)):
                best[name] = min(best[name], timeit(libdir, case, number, repeat))
        print(f"ctypes_{case:<24} system={best['system']:.1f} dropin={best['dropin']:.1f} "
              f"ratio={best['dropin'] / best['system']:.2f}", flush=True)


if __name__ == "__main__":
    main()
