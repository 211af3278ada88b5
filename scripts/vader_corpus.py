#!/usr/bin/env python3
"""Writes the VADER parity corpus: texts written by us, deterministic (seeded), built
to exercise every rule of VADER and every Python string behaviour it leans on:
lexicon words, emoticons and emoji, boosters and dampeners (incl. ALL CAPS ones),
"kind of"/"sort of", negations (incl. n't, "never so", "without doubt", "least", "no"),
"but" (its index quirk with repeated values), idioms, punctuation emphasis, Unicode
whitespace and letters, URLs, cashtags, and plain finance headlines and tweets.

Usage: python3 scripts/vader_corpus.py > tests/data/vader_corpus.txt
(one text per line; literal newlines and tabs inside texts are written as \\n, \\t
and decoded by the parity scripts). No dependency beyond the standard library.
"""
import random
import sys

rng = random.Random(20261123)

LEXICON = [
    "good", "great", "bad", "horrible", "love", "hate", "nice", "awful", "amazing",
    "terrible", "happy", "sad", "win", "lose", "fail", "success", "gain", "loss",
    "cool", "ok", "okay", "fine", "wow", "lol", "lmao", "sux", "crap", "best",
    "worst", "strong", "weak", "profit", "risk", "fear", "panic", "hope", "trust",
    "worry", "excited", "angry", "kind", "no", "yes", "beautiful", "ugly", "shit",
    "bomb", "ass", "heart", "die", "death", "right", "free", "outstanding", "gross",
    "crude", "share", "interest", "credit", "smart", "funny", "handsome", "boring",
    "dumb", "stupid", "brilliant", "wonderful", "disaster", "crash", "doubt",
    "like", "fav", "d:", ":)", ":(", ":-)", ":-(", ":D", ":P", ";)", "<3", ":/",
    "xD", ":'(", "^_^", "(:", "):", "=)", "8)", ":|", "o.o", ":-p", "d=", "muah",
]
BOOSTERS = ["very", "really", "extremely", "so", "totally", "absolutely", "most",
            "more", "incredibly", "friggin", "uber", "hella", "barely", "hardly",
            "slightly", "somewhat", "kinda", "sorta", "little", "less", "almost",
            "marginally", "partly", "kind-of", "sort-of", "effing", "quite"]
NEGATIONS = ["not", "isn't", "wasn't", "don't", "never", "no", "without", "nor",
             "cannot", "can't", "aint", "ain't", "didn't", "won't", "rarely",
             "seldom", "despite", "nothing", "none", "nope", "uh-uh", "neither",
             "doesnt", "shouldn't", "couldn't", "wouldnt"]
FILLER = ["the", "stock", "market", "is", "was", "a", "it", "this", "that", "and",
          "of", "to", "in", "for", "on", "with", "at", "by", "we", "they", "I",
          "you", "earnings", "company", "shares", "today", "quarter", "CEO", "Fed",
          "rates", "$TSLA", "$AAPL", "Tesla", "Apple", "or", "least", "at", "very",
          "kind", "of", "sort", "just", "enough", "doubt", "this", "so", "never",
          "bus", "stop", "yeah", "kiss", "to", "for", "beating", "bad", "the", "but",
          "BUT", "But", "2024", "5%", "Q3", "#stocks", "@trader", "https://t.co/x1"]
SPECIAL = ["the shit", "the bomb", "bad ass", "badass", "yeah right", "kiss of death",
           "to die for", "beating heart", "bus stop", "kind of", "sort of",
           "just enough", "at least", "very least", "without doubt", "never so",
           "never this", "no or", "no nor", "cut the mustard", "in the black",
           "in the red", "under the weather", "upper hand", "break a leg"]
EMOJI = ["😀", "😁", "😂", "🤣", "😍", "😭", "😡", "💘", "💋", "👍", "👎", "🚀",
         "🔥", "💩", "❤", "❤️", "🙂", "🙁", "😐", "🤔", "📈", "📉", "💰", "🐻",
         "🌙", "✅", "❌", "🎉", "😱", "🤑", "👏", "🙏", "💎", "🙌", "🏳️‍🌈", "👍🏽"]
PUNCT = ["!", "!!", "!!!", "!!!!!", "?", "??", "???", "????", "?!", "!?", ".",
         "...", ",", ";", ":", "", "", "", ""]
SPACES = [" ", " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000",
          "\u001f", "\u200b", "\u2028"]
UNICODE_WORDS = ["café", "naïve", "ÉNORME", "Straße", "ǅemal", "İstanbul",
                 "ΣΟΦΙΑ", "Ωmega", "日本", "привет", "ХОРОШО", "GOOD", "Good",
                 "gOOd", "G00D", "ÜBER", "über", "ﬁne", "ＧＯＯＤ"]

HEADLINES = [
    "Apple beats earnings estimates, raises guidance",
    "Tesla misses on deliveries and cuts its outlook",
    "The Fed held rates steady on Wednesday.",
    "Shares of $AAPL are not bad at all, honestly the quarter was GREAT!!!",
    "The product was kind of ok, but the support was horrible :(",
    "VADER is smart, handsome, and funny.",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "At least it isn't a horrible book.",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "The stock plunged 20% after the company missed earnings estimates.",
    "Revenue is up 5% :)",
    "No, this is not good. No good at all.",
    "I am bullish on $AMD but bearish on $INTC",
    "$GME to the moon 🚀🚀🚀",
    "Bagholders everywhere. This is going to zero.",
    "Analyst upgrades NVDA to outperform, price target raised to $900",
    "Nothing is wrong, the market is fine",
]


def word():
    r = rng.random()
    if r < 0.35:
        w = rng.choice(LEXICON)
    elif r < 0.5:
        w = rng.choice(BOOSTERS)
    elif r < 0.62:
        w = rng.choice(NEGATIONS)
    elif r < 0.68:
        w = rng.choice(SPECIAL)
    elif r < 0.74:
        w = rng.choice(EMOJI)
    elif r < 0.78:
        w = rng.choice(UNICODE_WORDS)
    else:
        w = rng.choice(FILLER)
    c = rng.random()
    if c < 0.12:
        w = w.upper()
    elif c < 0.2:
        w = w.capitalize()
    if rng.random() < 0.18:
        w += rng.choice(PUNCT)
    if rng.random() < 0.05:
        w = rng.choice(["'", '"', "(", "*", "-"]) + w
    if rng.random() < 0.03:
        w = w + rng.choice(EMOJI)
    return w


def sentence(n):
    parts = []
    for i in range(n):
        parts.append(word())
        if i < n - 1:
            parts.append(rng.choice(SPACES) if rng.random() < 0.08 else " ")
    s = "".join(parts)
    if rng.random() < 0.4:
        s += rng.choice(PUNCT)
    if rng.random() < 0.05:
        s = rng.choice([" ", "\n", "\t", "\u00a0"]) + s + rng.choice([" ", "\n", ""])
    return s


def main():
    texts = list(HEADLINES)
    # Every special phrase in a few frames.
    for sp in SPECIAL:
        for frame in ["{} indeed", "that was {}", "this stock is {} honestly",
                      "I think the CEO is {} but the product is good",
                      "NOT {} AT ALL", "{}!!!"]:
            texts.append(frame.format(sp))
    # Negation and booster distance sweeps.
    for neg in NEGATIONS[:12]:
        for gap in range(0, 4):
            for target in ["good", "bad", "GREAT", "horrible", ":)"]:
                texts.append(" ".join([neg] + ["the"] * gap + [target]))
    for b in BOOSTERS:
        for gap in range(0, 3):
            for target in ["good", "bad", "HAPPY"]:
                texts.append(" ".join([b] + ["stock"] * gap + [target]))
                texts.append(" ".join([b.upper()] + ["stock"] * gap + [target]) + " today")
    # "but" with repeated valences (the reference's index quirk).
    for i in range(60):
        k = rng.randint(1, 5)
        left = " ".join(rng.choice(["good", "good", "bad", "the", "ok", "nice"]) for _ in range(k))
        right = " ".join(rng.choice(["good", "bad", "the", "great", "great"]) for _ in range(rng.randint(1, 5)))
        texts.append(f"{left} but {right}")
    # Punctuation amplification sweep.
    for p in ["!", "!!", "!!!", "!!!!", "!!!!!!", "?", "??", "???", "?????", "?!?!"]:
        for base in ["good", "bad", "the market", "not good"]:
            texts.append(base + p)
    # Random compositions, short to long.
    while len(texts) < 2600:
        n = rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 40])
        texts.append(sentence(n))
    out = sys.stdout
    for t in texts:
        out.write(t.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r") + "\n")


if __name__ == "__main__":
    main()
