#!/bin/sh
# correctness of the default build and of each option's build
set -e
cd "$(dirname "$0")"
PY=${PY:-/work/main/.venv/bin/python}
$PY test_sgemm.py
for defs in "BDIRECT=1" "TADIRECT=1" "ADIRECT=0" "BDIRECT=1,TADIRECT=1" "PF_ON=1" "MR=12" "MR=8"; do
  printf '%s: ' "$defs"
  $PY -c "
import sys; sys.path.insert(0, '.')
import _lib, test_sgemm
test_sgemm.lib = _lib.load('/tmp/libsgemm_test.so', '$defs'.split(','))
test_sgemm.main()"
done
