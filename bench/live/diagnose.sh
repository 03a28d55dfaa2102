#!/usr/bin/env bash
# Runs reprodiff on one pair the way docs/moves-diagnosis.md measures it.
#
#   bench/live/diagnose.sh A B OUTPREFIX        (after `npm run build`)
#
# Writes OUTPREFIX.json and OUTPREFIX.md (the reports), OUTPREFIX.time (/usr/bin/time -v of the JSON
# run), OUTPREFIX.json2 (a second run on the same inputs; `cmp` says whether the JSON is deterministic),
# OUTPREFIX.b.tsv (who owns B's bytes, bench/live/layout.mjs) and OUTPREFIX.moved (bench/live/moved.py:
# the unexplained bytes recomputed, without the roots over 1 MiB too, and how much of them is the same
# bytes found in A at another offset). Prints a one-screen summary.
set -uo pipefail
if [ $# -ne 3 ]; then echo "usage: $0 A B OUTPREFIX" >&2; exit 2; fi
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$HERE/../../bin/reprodiff
A=$1 B=$2 O=$3
mkdir -p "$(dirname "$O")"
/usr/bin/time -v node "$BIN" "$A" "$B" --json "$O.json" -q >/dev/null 2>"$O.time"
node "$BIN" "$A" "$B" --json "$O.json2" --markdown "$O.md" -q >/dev/null 2>&1
if cmp -s "$O.json" "$O.json2"; then det="deterministic"; else det="NOT deterministic: $(cmp "$O.json" "$O.json2" | head -1)"; fi
node "$HERE/layout.mjs" "$B" >"$O.b.tsv" 2>/dev/null
python3 "$HERE/moved.py" "$A" "$B" "$O.json" --layout-b "$O.b.tsv" --exclude-roots-over 1 >"$O.moved"
echo "== $A vs $B"
awk -F': ' '/Elapsed \(wall/ {print "wall " $2} /Maximum resident/ {print "peak RSS KB " $2}' "$O.time"
echo "json: $det"
python3 - "$O.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
roots = [f for f in r['findings'] if f['root']]
print('bytes', r['bytes'], 'findings', len(r['findings']), 'roots', len(roots))
from collections import Counter
unk = [f for f in roots if f['kind'] == 'unknown' and f['format'] == 'raw']
for f in roots:
    if f not in unk:
        print('  root', f['kind'], f['format'], f['path'], f['field'], str(f.get('a'))[:40], str(f.get('b'))[:40])
if unk:
    print(f'  root unknown raw /: {len(unk)} findings')
EOF
sed -n '/^unexplained/,/^not_moved_by_owner/p' "$O.moved" | head -40
