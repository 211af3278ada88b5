#!/usr/bin/env python3
"""Scores the parity corpus with the Python reference, vaderSentiment 3.3.2.

  python3 -m venv /tmp/vv && /tmp/vv/bin/pip install vaderSentiment==3.3.2
  /tmp/vv/bin/python scripts/vader_expected.py tests/data/vader_corpus.txt > tests/data/vader_expected.jsonl

One JSON line per corpus line: {"text", "neg", "neu", "pos", "compound"}. The
integration test `vader_parity` runs `sigflow enrich --mode vader` on the same texts
and requires every value to match to 1e-4.
"""
import json
import sys

import vaderSentiment
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def decode(line):
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            n = line[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(n, "\\" + n))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main():
    sia = SentimentIntensityAnalyzer()
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            text = decode(line.rstrip("\n"))
            s = sia.polarity_scores(text)
            print(json.dumps({"text": text, **s}, ensure_ascii=False))


if __name__ == "__main__":
    main()
