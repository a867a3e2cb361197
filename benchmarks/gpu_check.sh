#!/usr/bin/env bash
# The GPU check in one go (docs/benchmarks.md, "GPU check"; benchmarks/gpu_check.py says what
# it runs and measures). For a machine with a CUDA GPU, this repository's tree and no network:
# flexspim runs from src/ on PYTHONPATH, under the machine's own Python and torch; a library the
# machine lacks comes from a wheelhouse prepared beforehand on a machine with pip and the package
# index, for the target's Python version (the wheels are not committed):
#
#   python3 benchmarks/gpu_check.py wheelhouse --python-version 3.12 --dest .whl
#
# Then, on the GPU machine, from the repository's root (about 6-8 minutes):
#
#   benchmarks/gpu_check.sh --wheelhouse .whl --out out/gpu_check
#
# writes out/gpu_check/gpu_check.json (after every step, so a time limit still leaves figures),
# cuda_tests.log and cuda_tests.xml. --dry-run runs every step on the CPU at tiny sizes (the
# test suite does, so that this script cannot rot). Other options go to `gpu_check.py run`
# (--device cuda:1, --budget-s, --tests-timeout-s). PYTHON names the interpreter that holds
# torch (default python3). Exit code: 0 when every step ran, the cuda tests passed and the GPU
# equals the CPU bit for bit; 1 otherwise; 2 when there is no CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
out=out/gpu_check
wheelhouse=
args=()
while [ $# -gt 0 ]; do
    case $1 in
        --out) out=$2; shift 2 ;;
        --wheelhouse) wheelhouse=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done
paths="$PWD/src"
if [ -n "$wheelhouse" ]; then
    site="${TMPDIR:-/tmp}/flexspim-gpu-check-site"
    PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" benchmarks/gpu_check.py \
        install-missing --wheelhouse "$wheelhouse" --site "$site"
    paths="$paths:$site"
fi
export PYTHONPATH="$paths${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
exec "$PYTHON" benchmarks/gpu_check.py run --out "$out" ${args[@]+"${args[@]}"}
