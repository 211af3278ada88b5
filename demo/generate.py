#!/usr/bin/env python3
"""Generate sigflow's bundled demo dataset (demo/dataset/).

Every payload is written in the exact raw shape the real platform sends (see the
recorded bodies in ../shared/fixtures/sources/), but the content is our own:
templated market chatter about real tickers. Deterministic (fixed seed), so the
committed files only change when this script does.

    python3 demo/generate.py            # rewrites demo/dataset/

The manifest (demo/dataset/manifest.json) lists, per payload file, its format and
item count, plus the exact set of good item keys ("platform:source_id") and the
planted poison, so tests can check "every good item stored exactly once, every
malformed item in the DLQ" without re-deriving anything.
"""
import datetime as dt
import html
import json
import os
import random
import shutil

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dataset")
R = random.Random(20261122)
T0 = dt.datetime(2026, 10, 12, 13, 0, tzinfo=dt.timezone.utc)

COMPANIES = [
    ("Apple", "AAPL"), ("Tesla", "TSLA"), ("Nvidia", "NVDA"), ("Microsoft", "MSFT"),
    ("Amazon", "AMZN"), ("Meta", "META"), ("Alphabet", "GOOGL"), ("AMD", "AMD"),
    ("Intel", "INTC"), ("Netflix", "NFLX"), ("JPMorgan", "JPM"), ("Goldman Sachs", "GS"),
    ("Boeing", "BA"), ("Ford", "F"), ("General Motors", "GM"), ("Disney", "DIS"),
    ("Walmart", "WMT"), ("Costco", "COST"), ("Pfizer", "PFE"), ("Moderna", "MRNA"),
    ("Exxon Mobil", "XOM"), ("Chevron", "CVX"), ("Palantir", "PLTR"), ("GameStop", "GME"),
    ("Coinbase", "COIN"), ("Berkshire Hathaway", "BRK.B"), ("Salesforce", "CRM"),
    ("Oracle", "ORCL"), ("Micron", "MU"), ("Broadcom", "AVGO"), ("Uber", "UBER"),
    ("Nike", "NKE"), ("Starbucks", "SBUX"), ("Caterpillar", "CAT"), ("Lockheed Martin", "LMT"),
    ("SoFi", "SOFI"), ("Rivian", "RIVN"), ("Costco", "COST"), ("Visa", "V"), ("Qualcomm", "QCOM"),
]

REDDIT_TITLES = [
    "{name} earnings beat, guidance raised. ${t} to the moon?",
    "DD: why ${t} is still undervalued after the selloff",
    "YOLO'd my savings into ${t} calls 🚀🚀🚀",
    "${t} puts printing. {name} just missed estimates",
    "Is anyone else worried about {name}'s debt load?",
    "{name} announces $10B buyback",
    "Analyst downgrades ${t} to sell, price target cut to ${pt}",
    "${t} short squeeze incoming? Short interest at {si}%",
    "Loss porn: down {loss}% on ${t} weeklies",
    "What do you think of {name} vs ${t2} for the next 5 years?",
    "{name} CEO sold {sh} shares last week",
    "Fed holds rates, ${t} and ${t2} rip after hours",
    "Bagholding ${t} since {yr}, when do I cut losses?",
    "{name} layoffs: {n} jobs cut, stock up {up}% premarket",
    "Daily discussion thread for {date}",
]
REDDIT_BODIES = [
    "Revenue came in at ${rev}B vs ${est}B expected. Margins expanded. I'm holding ${t} through the next quarter.",
    "Not financial advice, but the chart on ${t} looks like a cup and handle. {name} has been consolidating for weeks.",
    "Bought 10 ${t} {strike}c expiring Friday. Either lambo or food stamps.",
    "{name} is overvalued at {pe}x earnings. I'm staying out until it pulls back.",
    "The options chain on ${t} is insane today, huge open interest at the {strike} strike.",
    "",
    "Honestly {name} has no moat anymore. Competitors are eating their lunch.",
    "Guidance was weak and management dodged every question on the call. Sold my ${t}.",
]
SUBS = ["wallstreetbets", "stocks", "investing", "options", "StockMarket"]
REDDIT_USERS = ["DeepValueDan", "theta_gang_420", "ApeStrong88", "quietcompounder", "bull_or_bear",
                "OptionsOracle", "marketmaven_", "retail_regard", "dividend_dave", "chart_wizard"]

TRUTH_TEXTS = [
    "Tariffs are making our Country RICH again. {name} should build their factories in the USA, NOW!",
    "The Fed must cut rates, immediately. Jerome \u201cToo Late\u201d Powell is a disaster!",
    "Great meeting today with the CEO of {name}. They will be investing BILLIONS in America!",
    "The Stock Market is at an ALL TIME HIGH. Thank you!",
    "Oil prices are way down. Drill, baby, drill!",
    "China has agreed to buy massive amounts of American Soybeans. A great deal for our Farmers!",
    "{name} is treating us very badly. We will be looking into it!",
    "The Fake News Media refuses to report the incredible numbers on JOBS!",
    "Crypto will be a big part of our Country\u2019s future. Bitcoin!",
    "Big announcement on Semiconductors coming Monday. {name} and others are very happy!",
]
TRUTH_HANDLES = [("107780257626128497", "realDonaldTrump", "Donald J. Trump")]
TRUTH_OTHERS = [("109234567890123456", "mrddmia", "Dan Scavino"), ("108112233445566778", "WhiteHouse", "The White House"),
                ("110998877665544332", "EconPatriot", "Economy Patriot")]

X_USERS = [("44196397", "elonmusk", "Elon Musk"), ("783214", "X", "X"), ("1469101279", "unusual_whales", "unusual_whales"),
           ("20402945", "CNBC", "CNBC"), ("624413", "MarketWatch", "MarketWatch"), ("14216123", "DeItaone", "Walter Bloomberg")]
X_TEXTS = [
    "${t} breaking out to new highs on heavy volume",
    "JUST IN: {name} beats Q3 estimates, EPS ${eps} vs ${est} expected ${t}",
    "Unusual options activity: large call sweep in ${t} {strike}c",
    "{name} shares fall {down}% after guidance cut ${t}",
    "The Fed decision is tomorrow. Markets pricing a {prob}% chance of a cut. $SPY $QQQ",
    "Congress members bought ${t} before the contract announcement. Interesting.",
    "${t} ${t2} both red today, rotation out of tech?",
    "{name} to acquire a startup for ${rev}B in cash #{tag}",
    "Short sellers lost ${loss}M on ${t} this week",
    "Not selling a single share of ${t}. Long term conviction.",
]

SEC_FILERS = [("0000320193", "Apple Inc."), ("0001318605", "Tesla, Inc."), ("0001045810", "NVIDIA CORP"),
              ("0000789019", "MICROSOFT CORP"), ("0001018724", "AMAZON COM INC"), ("0001326801", "Meta Platforms, Inc."),
              ("0000019617", "JPMORGAN CHASE & CO"), ("0000012927", "BOEING CO"), ("0000037996", "FORD MOTOR CO"),
              ("0001001288", "Soci\u00e9t\u00e9 G\u00e9n\u00e9rale Holdings"), ("0000078003", "PFIZER INC")]
SEC_PEOPLE = [("0001494730", "Musk Elon"), ("0001214128", "Cook Timothy D"), ("0001197649", "Huang Jen Hsun"),
              ("0001513142", "Nadella Satya"), ("0001808220", "Jassy Andrew R"), ("0001548760", "Zuckerberg Mark")]
SEC_FORMS = ["4", "4", "4", "8-K", "10-Q", "SC 13D", "4"]

FED_TITLES = [
    ("Federal Reserve issues FOMC statement", "Monetary Policy", "monetary"),
    ("Minutes of the Federal Open Market Committee, {date}", "Monetary Policy", "monetary"),
    ("Federal Reserve Board announces approval of application by {bank}", "Orders on Banking Applications", "orders"),
    ("Federal Reserve Board issues enforcement action with {bank}", "Enforcement Actions", "enf"),
    ("Federal Reserve Board announces results of bank stress tests", "Banking and Consumer Regulatory Policy", "bcreg"),
    ("Agencies issue joint statement on liquidity risk", "Banking and Consumer Regulatory Policy", "bcreg"),
    ("Federal Reserve Board releases Financial Stability Report", "Other Announcements", "other"),
    ("Federal Reserve announces discount rate action", "Monetary Policy", "monetary"),
]
BANKS = ["JPMorgan Chase & Co.", "Goldman Sachs Group", "Citigroup Inc.", "Wells Fargo & Company", "Regional Bancorp"]


def fill(tpl):
    name, t = R.choice(COMPANIES)
    _, t2 = R.choice(COMPANIES)
    return tpl.format(
        name=name, t=t, t2=t2, pt=R.randint(20, 400), si=R.randint(15, 140), loss=R.randint(20, 99),
        sh=f"{R.randint(10, 900) * 1000:,}", yr=R.choice([2021, 2022, 2023]), n=R.choice([500, 1200, 4000]),
        up=R.randint(1, 9), date="November " + str(R.randint(2, 20)), rev=R.randint(2, 90),
        est=R.randint(2, 90), strike=R.randint(20, 500), pe=R.randint(25, 200), eps=f"{R.uniform(0.2, 5):.2f}",
        down=R.randint(3, 25), prob=R.randint(20, 95), tag=R.choice(["AI", "earnings", "stocks"]),
    )


def iso_ms(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class Clock:
    """A random walk forward in time so items across sources interleave realistically."""

    def __init__(self):
        self.t = T0

    def tick(self, lo=20, hi=900):
        self.t += dt.timedelta(seconds=R.randint(lo, hi), milliseconds=R.randint(0, 999))
        return self.t


# --------------------------------------------------------------------------- reddit

def reddit_post(clock, n, sub=None):
    t = clock.tick()
    pid = base36(1_700_000_000 + n * 7919)
    title = fill(R.choice(REDDIT_TITLES))
    body = fill(R.choice(REDDIT_BODIES))
    sub = sub or R.choice(SUBS)
    is_self = body != "" or R.random() < 0.5
    score = R.randint(0, 12000)
    author = R.choice(REDDIT_USERS)
    d = {
        "approved_at_utc": None, "subreddit": sub, "selftext": body if is_self else "",
        "author_fullname": "t2_" + base36(sum(ord(c) * 31 ** i for i, c in enumerate(author)) & 0xFFFFFFF), "saved": False, "mod_reason_title": None,
        "gilded": 0, "clicked": False, "title": title, "link_flair_richtext": [],
        "subreddit_name_prefixed": "r/" + sub, "hidden": False, "pwls": 6, "link_flair_css_class": None,
        "downs": 0, "thumbnail_height": None, "top_awarded_type": None, "hide_score": False,
        "name": "t3_" + pid, "quarantine": False, "link_flair_text_color": "dark",
        "upvote_ratio": R.choice([1, 0.99, 0.97, 0.93, 0.88, 0.75, 0.6]),
        "author_flair_background_color": None, "subreddit_type": "public", "ups": score,
        "total_awards_received": 0, "media_embed": {}, "thumbnail_width": None,
        "author_flair_template_id": None, "is_original_content": False, "user_reports": [],
        "secure_media": None, "is_reddit_media_domain": False, "is_meta": False, "category": None,
        "secure_media_embed": {}, "link_flair_text": R.choice([None, "DD", "Discussion", "YOLO", "News", "Gain", "Loss"]),
        "can_mod_post": False, "score": score, "approved_by": None, "author_premium": False,
        "thumbnail": "self" if is_self else "default", "edited": False, "author_flair_css_class": None,
        "author_flair_richtext": [], "gildings": {}, "content_categories": None, "is_self": is_self,
        "mod_note": None, "created": int(t.timestamp()) - 28800, "link_flair_type": "text", "wls": 6,
        "removed_by_category": None, "banned_by": None, "author_flair_type": "text",
        "domain": "self." + sub if is_self else "reuters.com", "allow_live_comments": False,
        "selftext_html": ("&lt;!-- SC_OFF --&gt;&lt;div class=\"md\"&gt;&lt;p&gt;" + html.escape(html.escape(body))
                          + "&lt;/p&gt;\n&lt;/div&gt;&lt;!-- SC_ON --&gt;") if is_self and body else None,
        "likes": None, "suggested_sort": None, "banned_at_utc": None, "view_count": None, "archived": False,
        "no_follow": score < 10, "is_crosspostable": True, "pinned": False, "over_18": False,
        "all_awardings": [], "awarders": [], "media_only": False, "can_gild": False, "spoiler": False,
        "locked": False, "author_flair_text": None, "treatment_tags": [], "visited": False,
        "removed_by": None, "num_reports": None, "distinguished": None, "subreddit_id": "t5_2th52",
        "mod_reason_by": None, "removal_reason": None, "link_flair_background_color": "",
        "id": pid, "is_robot_indexable": True, "report_reasons": None, "author": author,
        "discussion_type": None, "num_comments": R.randint(0, 3000), "send_replies": True,
        "whitelist_status": "all_ads", "contest_mode": False, "mod_reports": [],
        "author_patreon_flair": False, "author_flair_text_color": None,
        "permalink": f"/r/{sub}/comments/{pid}/{slug(title)}/", "parent_whitelist_status": "all_ads",
        "stickied": False,
        "url": f"https://www.reddit.com/r/{sub}/comments/{pid}/{slug(title)}/" if is_self
        else f"https://www.reuters.com/markets/{slug(title)}",
        "subreddit_subscribers": 15_800_000 if sub == "wallstreetbets" else 2_400_000,
        "created_utc": int(t.timestamp()) if R.random() < 0.7 else float(int(t.timestamp())),
        "num_crossposts": 0, "media": None, "is_video": False,
    }
    if not is_self:
        d["url_overridden_by_dest"] = d["url"]
        d["post_hint"] = "link"
    if R.random() < 0.04:
        d["crosspost_parent"] = "t3_" + base36(1_600_000_000 + n)
        d["crosspost_parent_list"] = [{"id": base36(1_600_000_000 + n), "subreddit": "stocks", "title": title}]
    return t, {"kind": "t3", "data": d}


def reddit_listing(children):
    last = children[-1]["data"].get("name") if children and isinstance(children[-1].get("data"), dict) else None
    return {"kind": "Listing", "data": {"after": last, "dist": len(children), "modhash": None,
                                         "geo_filter": "", "children": children, "before": None}}


# --------------------------------------------------------------------------- truth social

def truth_account(acc, t):
    aid, user, disp = acc
    return {"id": aid, "username": user, "acct": user, "display_name": disp, "locked": False, "bot": False,
            "discoverable": False, "group": False, "created_at": "2022-02-11T16:16:57.705Z", "note": "<p></p>",
            "url": f"https://truthsocial.com/@{user}", "avatar": "https://static-assets-1.truthsocial.com/avatar.jpeg",
            "avatar_static": "https://static-assets-1.truthsocial.com/avatar.jpeg",
            "header": "https://static-assets-1.truthsocial.com/header.jpeg",
            "header_static": "https://static-assets-1.truthsocial.com/header.jpeg",
            "followers_count": R.randint(9_000_000, 9_600_000) if user == "realDonaldTrump" else R.randint(1000, 900000),
            "following_count": 72, "statuses_count": 26046 + R.randint(0, 2000),
            "last_status_at": t.strftime("%Y-%m-%d"), "verified": True, "location": "",
            "website": "www.DonaldJTrump.com" if user == "realDonaldTrump" else "", "unauth_visibility": True,
            "chats_onboarded": True, "feeds_onboarded": True, "accepting_messages": False,
            "show_nonmember_group_statuses": None, "emojis": [], "fields": [], "tv_onboarded": False,
            "tv_account": False}


def truth_status(sid, t, acc, text, **kw):
    body = "<p>" + html.escape(text, quote=False).replace("\n\n", "</p><p>").replace("\n", "<br/>") + "</p>"
    s = {"id": sid, "created_at": iso_ms(t), "in_reply_to_id": None, "quote_id": None,
         "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": "public",
         "language": "en", "uri": f"https://truthsocial.com/@{acc[1]}/{sid}",
         "url": f"https://truthsocial.com/@{acc[1]}/{sid}", "content": body, "account": truth_account(acc, t),
         "media_attachments": [], "mentions": [], "tags": [], "card": None, "group": None, "quote": None,
         "in_reply_to": None, "reblog": None, "sponsored": False, "replies_count": R.randint(10, 20000),
         "reblogs_count": R.randint(100, 30000), "favourites_count": R.randint(500, 90000), "favourited": False,
         "reblogged": False, "muted": False, "pinned": False, "bookmarked": False, "poll": None, "emojis": []}
    s.update(kw)
    return s


def truth_page(clock, n0, count):
    statuses = []
    trump = TRUTH_HANDLES[0]
    for i in range(count):
        t = clock.tick(60, 4000)
        sid = str(115_500_000_000_000_000 + (n0 + i) * 104_729)
        kind = R.random()
        text = fill(R.choice(TRUTH_TEXTS))
        if kind < 0.15:  # ReTruth: outer status is a shell, the real post is in `reblog`
            other = R.choice(TRUTH_OTHERS)
            inner_id = str(int(sid) - 7)
            inner = truth_status(inner_id, t - dt.timedelta(minutes=R.randint(5, 300)), other, text)
            shell = truth_status(sid, t, trump, "", language=None, replies_count=0, reblogs_count=0,
                                 favourites_count=0, reblog=inner)
            shell["content"] = (f'<p>RT <span class="h-card"><a href="https://truthsocial.com/@{other[1]}" '
                                f'class="u-url mention">@<span>{other[1]}</span></a></span>' + inner["content"][3:])
            statuses.append(shell)
        elif kind < 0.25:  # quote post
            other = R.choice(TRUTH_OTHERS)
            qid = str(int(sid) - 11)
            quoted = truth_status(qid, t - dt.timedelta(hours=2), other, fill(R.choice(TRUTH_TEXTS)))
            s = truth_status(sid, t, trump, text, quote_id=qid, quote=quoted)
            s["content"] = s["content"][:-4] + (f'<span class="quote-inline"><br/>RT: '
                                                f'https://truthsocial.com/users/{other[1]}/statuses/{qid}</span></p>')
            statuses.append(s)
        elif kind < 0.32:  # reply
            other = R.choice(TRUTH_OTHERS)
            s = truth_status(sid, t, trump, text, in_reply_to_id=str(int(sid) - 3), in_reply_to_account_id=other[0],
                             mentions=[{"id": other[0], "username": other[1], "url": f"https://truthsocial.com/@{other[1]}",
                                        "acct": other[1]}])
            statuses.append(s)
        elif kind < 0.40:  # a link with Mastodon's invisible/ellipsis spans, a hashtag
            s = truth_status(sid, t, trump, text, tags=[{"name": "MAGA", "url": "https://truthsocial.com/tags/MAGA"}])
            s["content"] = s["content"][:-4] + (
                ' <a href="https://www.whitehouse.gov/briefings-statements/2026/11/fact-sheet" rel="nofollow noopener" '
                'target="_blank"><span class="invisible">https://www.</span><span class="ellipsis">whitehouse.gov/'
                'briefings-statements</span><span class="invisible">/2026/11/fact-sheet</span></a> '
                '<a href="https://truthsocial.com/tags/MAGA" class="mention hashtag" rel="tag">#<span>MAGA</span></a></p>')
            statuses.append(s)
        else:
            statuses.append(truth_status(sid, t, trump, text))
    statuses.reverse()  # the API returns newest first
    return statuses


# --------------------------------------------------------------------------- X

def x_page(clock, n0, count):
    data, users = [], {}
    for i in range(count):
        t = clock.tick(30, 1500)
        tid = str(1_985_000_000_000_000_000 + (n0 + i) * 1_000_003)
        uid, uname, disp = R.choice(X_USERS)
        users[uid] = {"id": uid, "username": uname, "name": disp,
                      "public_metrics": {"followers_count": R.randint(10_000, 200_000_000), "following_count": R.randint(0, 900),
                                         "tweet_count": R.randint(1000, 90000), "listed_count": R.randint(10, 9000)}}
        text = fill(R.choice(X_TEXTS))
        tw = {"edit_history_tweet_ids": [tid], "id": tid, "text": text, "author_id": uid, "lang": "en",
              "created_at": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
              "public_metrics": {"retweet_count": R.randint(0, 9000), "reply_count": R.randint(0, 3000),
                                 "like_count": R.randint(0, 90000), "quote_count": R.randint(0, 800),
                                 "bookmark_count": R.randint(0, 500), "impression_count": R.randint(1000, 9_000_000)}}
        ents = {}
        cashtags = [(m.start(), m.end(), m.group(1)) for m in CASHTAG.finditer(text)]
        if cashtags:
            ents["cashtags"] = [{"start": cp(text, s), "end": cp(text, e), "tag": tag} for s, e, tag in cashtags]
        tags = [(m.start(), m.end(), m.group(1)) for m in HASHTAG.finditer(text)]
        if tags:
            ents["hashtags"] = [{"start": cp(text, s), "end": cp(text, e), "tag": tag} for s, e, tag in tags]
        if ents:
            tw["entities"] = ents
        r = R.random()
        if r < 0.12:
            orig = R.choice(X_USERS)
            tw["text"] = f"RT @{orig[1]}: " + text
            tw["referenced_tweets"] = [{"type": "retweeted", "id": str(int(tid) - 5)}]
            if "entities" in tw:  # offsets shift with the RT prefix
                shift = len(f"RT @{orig[1]}: ")
                for k in tw["entities"].values():
                    for e in k:
                        e["start"] += shift
                        e["end"] += shift
        elif r < 0.2:
            tw["referenced_tweets"] = [{"type": "quoted", "id": str(int(tid) - 9)}]
        elif r < 0.28:
            tw["referenced_tweets"] = [{"type": "replied_to", "id": str(int(tid) - 2)}]
            tw["in_reply_to_user_id"] = R.choice(X_USERS)[0]
        data.append(tw)
    data.reverse()
    meta = {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data),
            "next_token": "b26v89c19zqg8o3" + base36(n0 * 31337)}
    return {"data": data, "includes": {"users": list(users.values())}, "meta": meta}


# --------------------------------------------------------------------------- SEC

def sec_page(clock, n0, count, break_entry=None):
    entries, keys = [], []
    now = clock.t
    for i in range(count):
        t = clock.tick(60, 2000)
        form = R.choice(SEC_FORMS)
        cik, company = R.choice(SEC_FILERS)
        acc = f"0000950170-26-{(n0 + i) * 37 % 1000000:06d}"
        size = R.randint(5, 900)
        summary = f" &lt;b&gt;Filed:&lt;/b&gt; {t:%Y-%m-%d} &lt;b&gt;AccNo:&lt;/b&gt; {acc} &lt;b&gt;Size:&lt;/b&gt; {size} KB"
        if form == "8-K":
            summary += "\r\n&lt;br&gt;Item 2.02: Results of Operations and Financial Condition\r\n&lt;br&gt;Item 9.01: Financial Statements and Exhibits"
        upd = (t - dt.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S") + "-04:00"
        roles = [(company, cik, "Issuer" if form == "4" else "Filer")]
        if form == "4":
            pcik, person = R.choice(SEC_PEOPLE)
            roles.insert(0, (person, pcik, "Reporting"))
        if break_entry == i:  # one entry with nothing to identify the filing by
            entries.append("<entry>\r\n"
                           f"<title>{form} - {xml_escape(company)} ({cik}) (Filer)</title>\r\n"
                           f"<updated>{upd}</updated>\r\n</entry>\r\n")
            continue
        for name, c, role in roles:
            e = ("<entry>\r\n"
                 f"<title>{form} - {xml_escape(name)} ({c}) ({role})</title>\r\n"
                 f'<link rel="alternate" type="text/html" href="https://www.sec.gov/Archives/edgar/data/{int(c)}/'
                 f'{acc.replace("-", "")}/{acc}-index.htm"/>\r\n'
                 f'<summary type="html">\r\n{summary}\r\n</summary>\r\n'
                 f"<updated>{upd}</updated>\r\n"
                 f'<category scheme="https://www.sec.gov/" label="form type" term="{form}"/>\r\n'
                 + f"<id>urn:tag:sec.gov,2008:accession-number={acc}</id>\r\n"
                 + "</entry>\r\n")
            entries.append(e)
        keys.append("sec:" + acc)
    head = ('<?xml version="1.0" encoding="ISO-8859-1" ?>\r\n<feed xmlns="http://www.w3.org/2005/Atom">\r\n'
            f"<title>Latest Filings - {now:%a, %d %b %Y %H:%M:%S} EDT</title>\r\n"
            '<link rel="alternate" href="/cgi-bin/browse-edgar?action=getcurrent"/>\r\n'
            '<link rel="self" href="/cgi-bin/browse-edgar?action=getcurrent"/>\r\n'
            "<id>https://www.sec.gov/cgi-bin/browse-edgar?action=getcurrent</id>\r\n"
            "<author><name>Webmaster</name><email>webmaster@sec.gov</email></author>\r\n"
            f"<updated>{clock.t:%Y-%m-%dT%H:%M:%S}-04:00</updated>\r\n")
    entries.reverse()
    return (head + "".join(entries) + "</feed>\r\n").encode("iso-8859-1"), keys


# --------------------------------------------------------------------------- Fed

def fed_items(clock, n0, count):
    items = []
    for i in range(count):
        t = clock.tick(3600, 40000).replace(minute=0, second=0, microsecond=0)
        tpl, cat, prefix = R.choice(FED_TITLES)
        title = tpl.format(date=f"{t:%B} {t.day}, {t.year}", bank=R.choice(BANKS))
        url = f"https://www.federalreserve.gov/newsevents/pressreleases/{prefix}{t:%Y%m%d}{'abcdefgh'[(n0 + i) % 8]}.htm"
        items.append((t, title, cat, url))
    return items


def fed_rss(items, bom, break_guid=None):
    out = ['<?xml version="1.0" encoding="utf-8" ?>\n<rss version="2.0">\n    <channel>\n'
           "        <title>FRB: Press Release - All Releases</title>\n"
           "        <link><![CDATA[https://www.federalreserve.gov/feeds/feeds.htm]]></link>\n"
           "        <description><![CDATA[All recent press releases from the Federal Reserve Board]]></description>\n"
           "        <language>en</language>\n"]
    for t, title, cat, url in reversed(items):
        pub = f"{t:%a}, {t.day} {t:%b %Y %H:%M:%S} GMT"
        link = "" if url == break_guid else f"            <link><![CDATA[{url}]]></link>\n"
        guid = "" if url == break_guid else f"            <guid><![CDATA[{url}]]></guid>\n"
        out.append("        <item>\n"
                   f"            <title>{xml_escape(title)}</title>\n{link}{guid}"
                   f"            <description><![CDATA[{title}]]></description>\n"
                   f"            <category>{xml_escape(cat)}</category>\n"
                   f"            <pubDate><![CDATA[{pub}]]></pubDate>    \n"
                   "        </item>\n")
    out.append("    </channel>\n</rss>\n")
    data = "".join(out).encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


# --------------------------------------------------------------------------- helpers

import re  # noqa: E402

CASHTAG = re.compile(r"\$([A-Z]{1,5}(?:\.[A-Z])?)\b")
HASHTAG = re.compile(r"#(\w+)")


def cp(text, idx):
    """UTF-16 index → code point index (X offsets are in code points)."""
    return len(text[:idx])


def base36(n):
    s = ""
    n = abs(n)
    while True:
        n, r = divmod(n, 36)
        s = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + s
        if n == 0:
            return s


def slug(s):
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")[:50]


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    files, good, poison = [], set(), []
    clock = Clock()
    seq = [0]

    def emit(fmt, ext, body, items, keys, note=None):
        seq[0] += 1
        name = f"{seq[0]:04d}-{fmt}.{ext}"
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(body if isinstance(body, bytes) else body.encode("utf-8"))
        files.append({"file": name, "format": fmt, "items": items})
        good.update(keys)
        if note:
            poison.append(dict(note, file=name))

    reddit_n, truth_n, x_n, sec_n, fed_n = 0, 0, 0, 0, 0
    prev_reddit_tail = []
    fed_seen = []
    for round_ in range(24):
        # Reddit: a page of 25; the first two children repeat the previous page's newest
        # (an overlapping poll), so the page has 23 new posts.
        kids = []
        for _ in range(23):
            reddit_n += 1
            kids.append(reddit_post(clock, reddit_n)[1])
        page = list(reversed(kids)) + prev_reddit_tail
        prev_reddit_tail = list(reversed(kids))[:2]
        note = None
        if round_ == 5:  # a child with no id or name: an item-level poison
            bad = {"kind": "t3", "data": {"title": "post with no id", "selftext": "x", "author": "ghost",
                                          "subreddit": "stocks", "created_utc": 1762500000}}
            page.insert(3, bad)
            note = {"format": "reddit", "kind": "item", "item_index": 3, "why": "missing id"}
        if round_ == 11:  # created_utc as a word: an item-level poison
            page[5]["data"] = dict(page[5]["data"], created_utc="yesterday")
            note = {"format": "reddit", "kind": "item", "item_index": 5, "why": "created_utc not a number",
                    "source_id": page[5]["data"]["id"]}
        keys = {"reddit:" + k["data"]["id"] for k in page if "id" in k["data"] and not isinstance(k["data"].get("created_utc"), str)}
        emit("reddit", "json", json.dumps(reddit_listing(page)), len(page), keys, note)

        if round_ % 2 == 0:
            sts = truth_page(clock, truth_n, 20)
            truth_n += 20
            note = None
            if round_ == 8:  # a status whose created_at is missing: item-level poison
                del sts[4]["created_at"]
                note = {"format": "truthsocial", "kind": "item", "item_index": 4, "why": "missing created_at",
                        "source_id": sts[4]["id"]}
            keys = {"truthsocial:" + s["id"] for s in sts if "created_at" in s}
            emit("truthsocial", "json", json.dumps(sts, ensure_ascii=False), len(sts), keys, note)

        if round_ % 2 == 1:
            page = x_page(clock, x_n, 20)
            x_n += 20
            note = None
            if round_ == 9:  # a tweet without text: item-level poison
                del page["data"][7]["text"]
                note = {"format": "x", "kind": "item", "item_index": 7, "why": "missing text",
                        "source_id": page["data"][7]["id"]}
            keys = {"x:" + t["id"] for t in page["data"] if "text" in t}
            emit("x", "json", json.dumps(page, ensure_ascii=False), len(page["data"]), keys, note)

        if round_ % 4 == 2:
            brk = 6 if round_ == 10 else None
            body, keys = sec_page(clock, sec_n, 18, break_entry=brk)
            sec_n += 18
            note = {"format": "sec", "kind": "item", "why": "entry without accession id"} if brk is not None else None
            emit("sec", "xml", body, 18, set(keys), note)

        if round_ % 3 == 0:
            new = fed_items(clock, fed_n, 8)
            fed_n += 8
            fed_seen = (new + fed_seen)[:20]  # the live feed keeps the newest ~20, so polls overlap
            brk = fed_seen[2][3] if round_ == 12 else None
            body = fed_rss(sorted(fed_seen), bom=(round_ % 2 == 0), break_guid=brk)
            keys = {"fed:" + it[3] for it in fed_seen if it[3] != brk}
            note = {"format": "fed", "kind": "item", "why": "item without guid or link"} if brk else None
            emit("fed", "xml", body, len(fed_seen), keys, note)

        # Whole-payload poison: a truncated body and an HTML error page where JSON was due.
        if round_ == 7:
            good_page = json.dumps(reddit_listing([reddit_post(clock, 999_999)[1]]))
            emit("reddit", "json", good_page[: len(good_page) // 2], 1, set(),
                 {"format": "reddit", "kind": "payload", "why": "truncated JSON"})
        if round_ == 15:
            emit("truthsocial", "json", "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
                 "<body>Checking your browser before accessing truthsocial.com.</body></html>", 0, set(),
                 {"format": "truthsocial", "kind": "payload", "why": "HTML challenge page, not JSON"})
        if round_ == 19:
            body, _ = sec_page(clock, 900_000, 4)
            emit("sec", "xml", body[: len(body) * 2 // 3], 4, set(),
                 {"format": "sec", "kind": "payload", "why": "truncated XML"})

    # A Fed item whose guid was dropped in one poll but seen whole in another still counts
    # as good (it is stored from the good poll); the manifest reflects exactly that.
    manifest = {
        "generator": "demo/generate.py",
        "files": files,
        "good_items": len(good),
        "good_keys": sorted(good),
        "poison": poison,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{len(files)} payloads, {len(good)} unique good items, {len(poison)} planted poison payloads/items")


if __name__ == "__main__":
    main()
