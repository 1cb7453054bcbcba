#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""promcheck.py - a strict check of the Prometheus text exposition format
(version 0.0.4) on stdin, for `xtsctl stats --prometheus`.  Exit 0 when
valid, 1 with one line per problem.  Checks what promtool's parser checks:
metric and label name syntax, label value escapes, numeric values, HELP and
TYPE placement (at most one each per family, TYPE before its samples, one
contiguous block per family), valid TYPE names, counter/gauge samples
without suffix mismatch, no duplicate series, newline at the end."""
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*$')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}
VALUE = re.compile(r'^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$')


def parse_labels(s, errs, ln):
    labels, i = {}, 0
    while i < len(s):
        m = re.match(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"', s[i:])
        if not m:
            errs.append(f'{ln}: bad label syntax: {s[i:]!r}')
            return None
        name, i = m.group(1), i + m.end()
        val = []
        while i < len(s) and s[i] != '"':
            if s[i] == '\\':
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    errs.append(f'{ln}: bad escape in label {name}')
                    return None
                val.append(s[i:i + 2])
                i += 2
            elif s[i] == '\n':
                errs.append(f'{ln}: newline in label value')
                return None
            else:
                val.append(s[i])
                i += 1
        if i >= len(s):
            errs.append(f'{ln}: unterminated label value')
            return None
        i += 1
        if name in labels:
            errs.append(f'{ln}: duplicate label {name}')
        labels[name] = ''.join(val)
        m = re.match(r'\s*(,|$)', s[i:])
        if not m:
            errs.append(f'{ln}: expected , between labels')
            return None
        i += m.end()
    return labels


def main():
    text = sys.stdin.read()
    errs = []
    if not text:
        errs.append('empty input')
    elif not text.endswith('\n'):
        errs.append('no newline at the end')
    help_, type_, seen_samples, done_families, series = {}, {}, set(), set(), set()
    current = None
    nsamples = 0
    for ln, line in enumerate(text.split('\n')[:-1], 1):
        if line.startswith('#'):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ('HELP', 'TYPE'):
                if len(parts) < 3 or not NAME.match(parts[2]):
                    errs.append(f'{ln}: bad metric name in {parts[1]}')
                    continue
                fam = parts[2]
                if fam != current:
                    if fam in done_families:
                        errs.append(f'{ln}: family {fam} is not contiguous')
                    if current:
                        done_families.add(current)
                    current = fam
                table = help_ if parts[1] == 'HELP' else type_
                if fam in table:
                    errs.append(f'{ln}: second {parts[1]} for {fam}')
                if parts[1] == 'TYPE':
                    if len(parts) != 4 or parts[3] not in TYPES:
                        errs.append(f'{ln}: bad TYPE for {fam}')
                    if fam in seen_samples:
                        errs.append(f'{ln}: TYPE after samples of {fam}')
                table[fam] = parts[3] if len(parts) == 4 else ''
            continue
        if not line.strip():
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+(-?\d+))?\s*$', line)
        if not m:
            errs.append(f'{ln}: bad sample line {line!r}')
            continue
        name, labels_s, value = m.group(1), m.group(3), m.group(4)
        fam = name
        for suf in ('_bucket', '_sum', '_count'):
            if name.endswith(suf) and name[:-len(suf)] in type_ and \
                    type_[name[:-len(suf)]] in ('histogram', 'summary'):
                fam = name[:-len(suf)]
        if fam != current:
            if fam in done_families:
                errs.append(f'{ln}: family {fam} is not contiguous')
            if current:
                done_families.add(current)
            current = fam
        seen_samples.add(fam)
        labels = parse_labels(labels_s, errs, ln) if labels_s else {}
        if labels is None:
            continue
        if not VALUE.match(value):
            errs.append(f'{ln}: bad value {value!r}')
        elif type_.get(fam) == 'counter' and float(value) < 0:
            errs.append(f'{ln}: negative counter')
        if type_.get(fam) == 'counter' and not fam.endswith('_total'):
            errs.append(f'{ln}: counter {fam} should end in _total')
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            errs.append(f'{ln}: duplicate series {name}{labels}')
        series.add(key)
        nsamples += 1
    if not nsamples:
        errs.append('no samples')
    for e in errs:
        print('promcheck:', e)
    if not errs:
        print(f'promcheck: ok, {nsamples} samples in {len(type_)} families')
    return 1 if errs else 0


if __name__ == '__main__':
    sys.exit(main())
