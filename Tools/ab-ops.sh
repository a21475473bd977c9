#!/usr/bin/env bash
# Compares two mend builds on `mend bench ops` cases the way this machine's noise allows: each case
# is run ROUNDS times per build, alternating the builds, and the median of the per-run minimums is
# printed per build (with their range). A slow spell then hits both builds alike.
#
#   bash Tools/ab-ops.sh OLD_MEND NEW_MEND ROUNDS CASE [CASE ...]
#   e.g. cp .build/release/mend /tmp/mend-old; (change, rebuild);
#        bash Tools/ab-ops.sh /tmp/mend-old .build/release/mend 5 dcgan_d1 dcgan_d2
#
# CASE is an op case name or the start of exactly one (see `mend bench ops`); extra flags (--threads, --device) can be
# passed through MEND_AB_FLAGS.
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: bash Tools/ab-ops.sh OLD_MEND NEW_MEND ROUNDS CASE [CASE ...]" >&2; exit 2
fi
old=$1; new=$2; rounds=$3; shift 3
for bin in "$old" "$new"; do
  [ -x "$bin" ] || { echo "ab-ops: $bin is not an executable mend" >&2; exit 2; }
done
for c in "$@"; do
  for _ in $(seq "$rounds"); do
    for which in old new; do
      bin=$old; [ $which = new ] && bin=$new
      # Column 4 of the table is the minimum in ms. The case: the row named CASE, else the one
      # row whose name starts with it.
      v=$("$bin" bench ops --filter "$c" --budget 0.4 ${MEND_AB_FLAGS:-} 2>&1 | awk -v c="$c" '
        $1 == c { exact = $4 } index($1, c) == 1 && NF >= 4 { n++; prefix = $4 }
        END { if (exact != "") print exact; else if (n == 1) print prefix }')
      [ -n "$v" ] || { echo "ab-ops: no single case named or starting with $c in $bin bench ops" >&2; exit 2; }
      echo "$c $which $v"
    done
  done
done | python3 -c '
import sys, statistics as st
d = {}
for line in sys.stdin:
    c, b, v = line.split()
    d.setdefault((c, b), []).append(float(v))
for (c, b), vs in sorted(d.items(), key=lambda kv: (kv[0][0], kv[0][1] != "old")):
    print(f"{c:40s} {b:4s} median of mins {st.median(vs):9.3f} ms  (range {min(vs):.3f}-{max(vs):.3f}, n={len(vs)})")
'
