#!/usr/bin/env python3
"""Writes demo/prices/*.csv: SYNTHETIC daily prices for the demo's assets.

Not market data. A seeded random walk per symbol on the NYSE sessions (from
data/markets/nyse.csv) of 2026-08-03 .. 2026-11-30, so `sigflow demo` can score its
history offline. Prices are written as traded; one 2-for-1 split (CAT, 2026-10-26)
shows split handling. Re-running gives the same files.
"""
import datetime as dt
import random

SYMBOLS = ("AAPL AMD AMZN AVGO BA BRK.B CAT COIN COST CRM CVX DIS F GM GME GOOGL GS INTC JPM "
           "LMT META MRNA MSFT MU NFLX NKE NVDA ORCL PFE PLTR QCOM RIVN SBUX SOFI TSLA UBER V "
           "WMT XOM SPY").split()
CRYPTO = ("BTC", "ETH")
FIRST, LAST = dt.date(2026, 8, 3), dt.date(2026, 11, 30)
SPLITS = {"CAT": (dt.date(2026, 10, 26), 2.0)}

closed = set()
for line in open("data/markets/nyse.csv"):
    if line[:1].isdigit() and ",closed," in line:
        closed.add(dt.date.fromisoformat(line[:10]))


def days(every_day):
    d = FIRST
    while d <= LAST:
        if every_day or (d.weekday() < 5 and d not in closed):
            yield d
        d += dt.timedelta(days=1)


def write(sym, every_day):
    r = random.Random(sym)
    price = r.uniform(20, 400) if not every_day else (60000.0 if sym == "BTC" else 2500.0)
    split_day, ratio = SPLITS.get(sym, (None, 1.0))
    name = sym.replace(".", "-")
    with open(f"demo/prices/{name}.csv", "w") as f:
        f.write(f"# {sym}: DEMO DATA - synthetic prices (seeded random walk), not market data.\n")
        f.write("# Made by demo/generate_prices.py for `sigflow demo`.\n")
        f.write("Date,Open,High,Low,Close,Volume,Split,Dividend\n")
        for d in days(every_day):
            split = 1.0
            if d == split_day:
                price /= ratio
                split = ratio
            o = price * (1 + r.gauss(0, 0.006))
            c = o * (1 + r.gauss(0.0004, 0.018))
            h = max(o, c) * (1 + abs(r.gauss(0, 0.005)))
            lo = min(o, c) * (1 - abs(r.gauss(0, 0.005)))
            v = int(r.uniform(2e6, 6e7))
            f.write(f"{d},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v},{split:g},0\n")
            price = c


for s in SYMBOLS:
    write(s, False)
for s in CRYPTO:
    write(s, True)
