#!/usr/bin/env python3
"""Writes data/markets/nyse.csv: NYSE full-day closures and 13:00 ET early closes.

The table is data; this script is how it was made, kept so the next years are added the
same way. Rules: NYSE Rule 7.2 holidays as the exchange publishes them
(nyse.com/markets/hours-calendars), observed on the nearest weekday (a Saturday New
Year's Day is not observed), Juneteenth from 2022; early closes at 13:00 ET on the day
after Thanksgiving, Christmas Eve Monday-Thursday, July 3 Monday/Tuesday/Thursday (and
Wednesday from 2013), Friday July 5 before 2013. One-off closures and closes are listed
by hand with the event that caused them. sigflow's test suite checks every weekday of
2010-2027 against an independent implementation (crate exchange-hours).
"""
import datetime as dt

FIRST, LAST = 2000, 2027
D = dt.date

ADHOC_CLOSED = {
    D(2001, 9, 11): "September 11 attacks", D(2001, 9, 12): "September 11 attacks",
    D(2001, 9, 13): "September 11 attacks", D(2001, 9, 14): "September 11 attacks",
    D(2004, 6, 11): "National Day of Mourning (President Reagan)",
    D(2007, 1, 2): "National Day of Mourning (President Ford)",
    D(2012, 10, 29): "Hurricane Sandy", D(2012, 10, 30): "Hurricane Sandy",
    D(2018, 12, 5): "National Day of Mourning (President George H. W. Bush)",
    D(2025, 1, 9): "National Day of Mourning (President Carter)",
}
ADHOC_EARLY = {D(2003, 12, 26): "Friday after Christmas"}


def easter(y):
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    return D(y, month, day)


def nth_weekday(y, m, wd, n):
    d = D(y, m, 1)
    d += dt.timedelta(days=(wd - d.weekday()) % 7)
    return d + dt.timedelta(weeks=n - 1)


def last_weekday(y, m, wd):
    d = D(y, m + 1, 1) - dt.timedelta(days=1)
    return d - dt.timedelta(days=(d.weekday() - wd) % 7)


def nearest_workday(d):
    if d.weekday() == 5:
        return d - dt.timedelta(days=1)
    if d.weekday() == 6:
        return d + dt.timedelta(days=1)
    return d


def year(y):
    closed, early = {}, {}
    ny = D(y, 1, 1)
    if ny.weekday() == 6:
        closed[ny + dt.timedelta(days=1)] = "New Year's Day (observed)"
    elif ny.weekday() < 5:
        closed[ny] = "New Year's Day"
    closed[nth_weekday(y, 1, 0, 3)] = "Martin Luther King Jr. Day"
    closed[nth_weekday(y, 2, 0, 3)] = "Washington's Birthday"
    closed[easter(y) - dt.timedelta(days=2)] = "Good Friday"
    closed[last_weekday(y, 5, 0)] = "Memorial Day"
    if y >= 2022:
        closed[nearest_workday(D(y, 6, 19))] = "Juneteenth National Independence Day"
    closed[nearest_workday(D(y, 7, 4))] = "Independence Day"
    closed[nth_weekday(y, 9, 0, 1)] = "Labor Day"
    thanksgiving = nth_weekday(y, 11, 3, 4)
    closed[thanksgiving] = "Thanksgiving Day"
    closed[nearest_workday(D(y, 12, 25))] = "Christmas Day"

    early[thanksgiving + dt.timedelta(days=1)] = "Day after Thanksgiving"
    eve = D(y, 12, 24)
    if eve.weekday() <= 3:
        early[eve] = "Christmas Eve"
    j3 = D(y, 7, 3)
    if j3.weekday() in (0, 1, 3) or (j3.weekday() == 2 and y >= 2013):
        early[j3] = "Day before Independence Day"
    j5 = D(y, 7, 5)
    if j5.weekday() == 4 and y < 2013:
        early[j5] = "Day after Independence Day"
    for d, why in ADHOC_CLOSED.items():
        if d.year == y:
            closed[d] = why
    for d, why in ADHOC_EARLY.items():
        if d.year == y:
            early[d] = why
    for d in closed:
        early.pop(d, None)
    return closed, early


def main():
    rows = []
    for y in range(FIRST, LAST + 1):
        closed, early = year(y)
        rows += [(d, "closed", "", why) for d, why in closed.items()]
        rows += [(d, "early", "13:00", why) for d, why in early.items()]
    rows.sort()
    with open("data/markets/nyse.csv", "w") as f:
        f.write("# NYSE (XNYS) regular session exceptions, 2000-01-01 through 2027-12-31.\n")
        f.write("# Regular session 09:30-16:00 America/New_York, Monday to Friday; each row is a\n")
        f.write("# weekday without it: closed all day, or an early close (local time).\n")
        f.write("# Provenance: NYSE holiday rules and notices (nyse.com/markets/hours-calendars),\n")
        f.write("# made by scripts/gen-nyse-calendar.py; checked against crate exchange-hours 1.3.0\n")
        f.write("# for every weekday of 2010-2027 (tests). Ad-hoc closures: config\n")
        f.write("# [markets.calendar] closed / early_close, no release needed.\n")
        f.write("date,kind,close,reason\n")
        for d, kind, close, why in rows:
            f.write(f"{d.isoformat()},{kind},{close},{why}\n")


main()
