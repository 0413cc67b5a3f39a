#!/usr/bin/env python3
"""Writes a small, valid CLIP tokenizer (vocab.json + merges.txt) in SD v1.5's layout.

    python3 ref/tools/clip_tok_small.py OUTDIR [N_MERGES] [TEXT_FILE]

Layout, as openai/clip's and SD v1.5's tokenizer/ folder (docs/tokenizer.md):
  ids 0..255    the 256 byte characters (bytes_to_unicode, in its order),
  ids 256..511  the same with "</w>" (word end),
  ids 512..     one per merge, the merged symbol, in merge order,
  then <|startoftext|> and <|endoftext|> (the last two ids).
merges.txt: "#version: 0.2" then one "first second" line per merge.
The merges are learnt (plain byte-pair counting, ties broken by the pair's text) from
TEXT_FILE, or from the built-in text below; deterministic. ref/tests/data/clip_tok_small/ is
this script's output with the defaults (300 merges, built-in text).
"""
import json
import os
import sys

TEXT = """
a photograph of an astronaut riding a horse on the moon, highly detailed, trending on artstation
the quick brown fox jumps over the lazy dog. a painting of a cat sitting on a chair in the style of
van gogh; an oil painting of the sea at sunset, golden hour, cinematic lighting, 4k, 8k, hdr.
portrait of a woman with red hair and green eyes, digital art, concept art, sharp focus, illustration
a castle on a hill surrounded by a forest, fantasy landscape, matte painting, by greg rutkowski
goldfish, great white shark, tiger shark, hammerhead, electric ray, stingray, cock, hen, ostrich
brambling, goldfinch, house finch, junco, indigo bunting, robin, bulbul, jay, magpie, chickadee
water ouzel, kite, bald eagle, vulture, great grey owl, european fire salamander, common newt
it's a dog's life; they're here, we've been there, i'm sure you'll see what he'd do.
caf\u00e9 na\u00efve r\u00e9sum\u00e9 stra\u00dfe \u00fcber se\u00f1or fa\u00e7ade
"""


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def words(text):
    """Letter runs, single digits, other non-space runs (close to CLIP's pattern)."""
    out, cur, kind = [], "", None
    for ch in text.lower():
        k = "s" if ch.isspace() else ("l" if ch.isalpha() else ("n" if ch.isdigit() else "o"))
        if k != kind or k == "n":
            if cur and kind != "s":
                out.append(cur)
            cur, kind = "", k
        cur += ch
    if cur and kind != "s":
        out.append(cur)
    return out


def learn(text, n_merges):
    b2u = bytes_to_unicode()
    counts = {}
    for w in words(text):
        sym = [b2u[b] for b in w.encode("utf-8")]
        sym[-1] += "</w>"
        counts[tuple(sym)] = counts.get(tuple(sym), 0) + 1
    merges = []
    while len(merges) < n_merges:
        pairs = {}
        for w, c in counts.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new = {}
        for w, c in counts.items():
            o, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    o.append(w[i] + w[i + 1])
                    i += 2
                else:
                    o.append(w[i])
                    i += 1
            new[tuple(o)] = new.get(tuple(o), 0) + c
        counts = new
    return merges


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    text = open(sys.argv[3], encoding="utf-8").read() if len(sys.argv) > 3 else TEXT
    b2u = bytes_to_unicode()
    alphabet = list(b2u.values())
    merges = learn(text, n)
    vocab = alphabet + [c + "</w>" for c in alphabet]
    for a, b in merges:
        if a + b not in vocab:
            vocab.append(a + b)
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))
    print("%s: %d tokens, %d merges" % (out, len(vocab), len(merges)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
