#!/usr/bin/env python3
"""How much of what a reprodiff report leaves unexplained (or pins on a finding) is moved bytes.

  python3 bench/live/moved.py A B REPORT.json [--layout-a A.tsv --layout-b B.tsv]
                              [--exclude-roots-over MIB] [--finding ID ...] [--window BYTES]

1. Recomputes the differing bytes of A and B (same offsets, plus the tail of the longer file) and the
   bytes the report's findings claim (outer-file spans of every finding, of either side, as
   src/compare/account.ts counts them); checks that `unexplained` agrees with the report.
2. --exclude-roots-over MIB: also drops root `content`/`layout`/`ordering` findings whose outer spans
   exceed MIB, and every finding derived only from them, and says how many bytes are then claimed
   by nothing (the catch-all roots' real weight).
3. For the unexplained bytes (or, with --finding, the differing bytes inside those findings' spans),
   looks for the same bytes of B in A at another offset: B's bytes are cut into windows of 4 KiB;
   per window the deltas d tried are the recent ones and those found by searching 32-byte probes of B
   in A within +-window (default 64 MiB); a window counts as moved by d when at least half of its
   differing bytes equal A[offset - d]. Prints moved bytes per delta and per owner.
4. Owners come from layout TSVs (bench/live/layout.mjs) of B: the smallest span holding the offset.
"""
import argparse
import bisect
import heapq
import json
import mmap
import os
import sys
from collections import Counter, defaultdict

import numpy as np

CHUNK = 16 << 20
WIN = 4096


def diff_runs(a, b):
    """Differing runs [s, e) of two byte arrays at the same offsets, plus the longer one's tail."""
    n = min(len(a), len(b))
    runs = []
    for s in range(0, n, CHUNK):
        e = min(n, s + CHUNK)
        d = np.frombuffer(a, np.uint8, e - s, s) != np.frombuffer(b, np.uint8, e - s, s)
        if not d.any():
            continue
        x = np.concatenate(([0], d.view(np.int8), [0]))
        edges = np.flatnonzero(np.diff(x))
        for i in range(0, len(edges), 2):
            rs, re_ = int(edges[i]) + s, int(edges[i + 1]) + s
            if runs and runs[-1][1] == rs:
                runs[-1][1] = re_
            else:
                runs.append([rs, re_])
    if len(a) != len(b):
        runs.append([n, max(len(a), len(b))])
    return [tuple(r) for r in runs]


def normalize(iv):
    out = []
    for s, e in sorted(iv):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1][1] = e
        else:
            out.append([s, e])
    return [tuple(r) for r in out]


def subtract(iv, minus):
    """iv - minus, both normalized."""
    out = []
    j = 0
    for s, e in iv:
        cur = s
        while j < len(minus) and minus[j][1] <= cur:
            j += 1
        k = j
        while k < len(minus) and minus[k][0] < e:
            ms, me = minus[k]
            if ms > cur:
                out.append((cur, ms))
            cur = max(cur, me)
            if cur >= e:
                break
            k += 1
        if cur < e:
            out.append((cur, e))
    return out


def intersect(iv, other):
    out = []
    i = j = 0
    while i < len(iv) and j < len(other):
        s = max(iv[i][0], other[j][0])
        e = min(iv[i][1], other[j][1])
        if s < e:
            out.append((s, e))
        if iv[i][1] < other[j][1]:
            i += 1
        else:
            j += 1
    return out


def total(iv):
    return sum(e - s for s, e in iv)


def outer(f, side=None):
    return [(s['offset'], s['offset'] + s['length']) for s in f['spans'] if 'stream' not in s and (side is None or s['side'] == side)]


class Owners:
    """Smallest layout span holding an offset."""

    def __init__(self, path):
        rows = []
        with open(path) as fh:
            for line in fh:
                p = line.rstrip('\n').split('\t')
                s, e = int(p[0]), int(p[1])
                if e > s:
                    rows.append((s, e, p[2], p[3], p[4], p[5]))
        bounds = sorted({r[0] for r in rows} | {r[1] for r in rows})
        rows.sort()
        self.starts, self.owner = [], []
        heap = []
        i = 0
        for k, x in enumerate(bounds):
            while i < len(rows) and rows[i][0] <= x:
                r = rows[i]
                heapq.heappush(heap, (r[1] - r[0], i, r))
                i += 1
            while heap and heap[0][2][1] <= x:
                heapq.heappop(heap)
            # lazily drop rows that ended: scan for the smallest live one
            live = [h for h in heap if h[2][1] > x]
            if len(live) != len(heap):
                heap = live
                heapq.heapify(heap)
            self.starts.append(x)
            self.owner.append(heap[0][2] if heap else None)

    def at(self, off):
        k = bisect.bisect_right(self.starts, off) - 1
        return self.owner[k] if k >= 0 else None

    def segment_end(self, off):
        """where the owner of `off` may change next"""
        k = bisect.bisect_right(self.starts, off)
        return self.starts[k] if k < len(self.starts) else 1 << 62


def label(row, detail):
    if row is None:
        return '(no structure)'
    s, e, cpath, fmt, what, name = row
    if what == 'content' and not detail:
        return f'{cpath} {fmt} content (entries)'
    if what in ('field',) and not detail:
        return f'{cpath} {fmt} fields'
    return f'{cpath} {fmt} {what} {name}'


def moved_analysis(A, B, ivs, window, owners, out):
    """Windows of B's bytes in `ivs` that are A's bytes at offset - d."""
    a = np.frombuffer(A, np.uint8)
    b = np.frombuffer(B, np.uint8)
    recent = [0]
    by_delta = Counter()
    by_owner = Counter()
    by_owner_detail = Counter()
    unmoved_owner = Counter()
    moved = 0
    unmoved = 0
    searched = 0
    # windows: group the intervals into spans of at most WIN bytes
    k = 0
    n = len(ivs)
    while k < n:
        ws = ivs[k][0]
        lim = ws + WIN
        if owners:
            lim = min(lim, owners.segment_end(ws))
        we = min(ivs[k][1], lim)
        parts = []
        while k < n and ivs[k][0] < lim:
            s, e = ivs[k]
            ce = min(e, lim)
            parts.append((s, ce))
            we = ce
            if ce < e:
                ivs[k] = (ce, e)
                break
            k += 1
        if ws >= len(B):
            # bytes only A has (a longer A): nothing of B to find
            unmoved += total(parts)
            continue
        we = min(we, len(B))
        mask = np.zeros(we - ws, bool)
        for s, e in parts:
            mask[s - ws:min(e, we) - ws] = True
        cnt = int(mask.sum())
        if cnt == 0:
            continue
        bw = b[ws:we]

        def score(d):
            lo = ws - d
            if lo < 0 or lo + (we - ws) > len(a):
                return -1
            return int(np.count_nonzero((bw == a[lo:lo + we - ws]) & mask))

        scores = {d: score(d) for d in recent}
        best = max(scores.values())
        if best < cnt * 0.9:
            searched += 1
            cands = set()
            idx = np.flatnonzero(mask)
            for q in (idx[0], idx[len(idx) // 3], idx[2 * len(idx) // 3]):
                p = ws + int(q)
                probe = B[p:p + 32]
                if len(probe) < 32 or len(set(probe)) <= 4:
                    continue
                lo = max(0, p - window)
                hi = min(len(A), p + window + 32)
                h = A.find(probe, lo, hi)
                hits = 0
                while h >= 0 and hits < 16:
                    cands.add(p - h)
                    hits += 1
                    h = A.find(probe, h + 1, hi)
            for d in cands - scores.keys():
                scores[d] = score(d)
            best = max(scores.values())
        # the same bytes may occur at several places (repeated content): the nearest of the best wins
        bd = min((d for d, sc in scores.items() if sc >= best * 0.99), key=lambda d: (abs(d), d))
        best = scores[bd]
        row = owners.at(ws) if owners else None
        if best >= cnt * 0.5 and bd != 0:
            moved += best
            unmoved += cnt - best
            if cnt > best:
                unmoved_owner[label(row, True)] += cnt - best
            by_delta[bd] += best
            by_owner[label(row, False)] += best
            by_owner_detail[label(row, True)] += best
            if bd in recent:
                recent.remove(bd)
            recent.insert(0, bd)
            del recent[16:]
        else:
            unmoved += cnt
            unmoved_owner[label(row, True)] += cnt
    out['moved'] = moved
    out['not_moved'] = unmoved
    out['windows_searched'] = searched
    out['moved_by_delta'] = by_delta.most_common(20)
    out['moved_by_owner'] = by_owner.most_common(20)
    out['moved_by_owner_detail'] = by_owner_detail.most_common(15)
    out['not_moved_by_owner'] = unmoved_owner.most_common(15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('a')
    ap.add_argument('b')
    ap.add_argument('report')
    ap.add_argument('--layout-b')
    ap.add_argument('--exclude-roots-over', type=float)
    ap.add_argument('--finding', action='append', default=[])
    ap.add_argument('--window', type=int, default=64 << 20)
    ap.add_argument('--json', action='store_true')
    o = ap.parse_args()
    with open(o.a, 'rb') as fa, open(o.b, 'rb') as fb:
        A = mmap.mmap(fa.fileno(), 0, access=mmap.ACCESS_READ) if os.path.getsize(o.a) else b''
        B = mmap.mmap(fb.fileno(), 0, access=mmap.ACCESS_READ) if os.path.getsize(o.b) else b''
    rep = json.load(open(o.report))
    byid = {f['id']: f for f in rep['findings']}
    res = {'report_bytes': rep['bytes']}
    diff = normalize(diff_runs(A, B))
    res['differing'] = total(diff)

    def only_from(f, dropped):
        return not f['root'] and f['causedBy'] and all(c in dropped for c in f['causedBy'])

    def claimed(exclude=frozenset(), side=None):
        iv = []
        for f in rep['findings']:
            if f['id'] in exclude or f['kind'] == 'unknown':
                continue
            if not f['root'] and f['causedBy'] and all(byid[c]['kind'] == 'unknown' for c in f['causedBy']):
                continue
            iv.extend(outer(f, side))
        return normalize(iv)

    unexpl = subtract(diff, claimed())
    res['unexplained'] = total(unexpl)
    # the report claims an offset for both files when a span of either side covers it; per side, a byte of B
    # is explained only by a span of B (and one of A by a span of A)
    res['unexplained_per_side'] = {
        side: total(subtract(intersect(diff, [(0, len(X))]), claimed(side=side))) for side, X in (('a', A), ('b', B))}
    if o.exclude_roots_over is not None:
        cap = o.exclude_roots_over * (1 << 20)
        big = {f['id'] for f in rep['findings'] if f['root'] and f['kind'] in ('content', 'layout', 'ordering')
               and total(normalize(outer(f))) > cap}
        dropped = set(big)
        changed = True
        while changed:
            changed = False
            for f in rep['findings']:
                if f['id'] not in dropped and only_from(f, dropped):
                    dropped.add(f['id'])
                    changed = True
        res['excluded_roots'] = [(i, byid[i]['path'], byid[i]['format'], byid[i]['kind'], total(intersect(diff, normalize(outer(byid[i])))))
                                 for i in sorted(big, key=lambda x: int(x[1:]))]
        res['excluded_derived'] = len(dropped) - len(big)
        unexpl = subtract(diff, claimed(frozenset(dropped)))
        res['unexplained_without_them'] = total(unexpl)
    if o.finding:
        spans = normalize([iv for fid in o.finding for iv in outer(byid[fid])])
        target = intersect(diff, spans)
        res['analysed'] = f'differing bytes inside the spans of {", ".join(o.finding)}'
    else:
        target = unexpl
        res['analysed'] = 'unexplained bytes'
    res['analysed_bytes'] = total(target)
    res['analysed_runs'] = len(target)
    if target:
        res['analysed_first'] = target[0][0]
        res['analysed_last'] = target[-1][1]
    owners = Owners(o.layout_b) if o.layout_b else None
    moved_analysis(A, B, list(target), o.window, owners, res)
    if o.json:
        json.dump(res, sys.stdout, indent=1)
        print()
        return
    for k, v in res.items():
        if isinstance(v, list):
            print(f'{k}:')
            for x in v:
                print('   ', x)
        else:
            print(f'{k}: {v}')


if __name__ == '__main__':
    main()
