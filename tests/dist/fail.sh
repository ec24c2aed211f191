#!/usr/bin/env bash
# tests/dist/fail.sh MPIEXEC PROGRAM MODE NP PATTERN
# Runs PROGRAM MODE on NP ranks (see dist_fail.c) and passes when the job
# fails (non-zero exit) within LIMIT seconds with PATTERN (an extended regex)
# in its output. A job still running after LIMIT seconds is a hang: killed
# and reported as a failure of the test.
set -u
mpiexec=$1 prog=$2 mode=$3 np=$4 pattern=$5
limit=${AG_DIST_FAIL_LIMIT:-45}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
timeout -k 5 "$limit" "$mpiexec" --oversubscribe --allow-run-as-root -np "$np" "$prog" "$mode" >"$out" 2>&1
rc=$?
elapsed=$(( $(date +%s) - start ))
cat "$out"
echo "-- mode $mode, $np ranks: exit $rc after ${elapsed} s"
# timeout(1) exits 124 (or 137 after -k); mpirun itself exits 137 when a rank
# was killed, so the elapsed time tells a hang apart.
if [ "$rc" -eq 124 ] || [ "$elapsed" -ge "$limit" ]; then
  echo "FAIL: the job hung (still running after $limit s)"; exit 1
fi
if [ "$rc" -eq 0 ]; then
  echo "FAIL: the job exited 0 although a rank failed"; exit 1
fi
if ! grep -Eq "$pattern" "$out"; then
  echo "FAIL: no report matching /$pattern/ in the output"; exit 1
fi
echo "PASS: the failure was reported and the job ended in ${elapsed} s"
