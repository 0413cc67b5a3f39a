#!/usr/bin/env python3
"""ggdm's CLIP tokenizer (`ggdm tokenize`) against transformers' CLIPTokenizer, token for token.

    .venv-interop/bin/python ci/interop/tokenizer_vs_transformers.py [--ggdm build/ggdm]
        [--tokenizer DIR] [--classes FILE] [--random N] [--seed S]

Run with the interop venv (ci/setup-py.sh: transformers 4.36.2, no ftfy). Offline: the
tokenizers are built from local vocab.json/merges.txt files (HF_HUB_OFFLINE=1), nothing is
downloaded. Compared, for every string, both
  - what diffusers feeds the text encoder: tokenizer(text, padding="max_length",
    max_length=77, truncation=True).input_ids   vs  ggdm tokenize (default: 77, padded), and
  - every token, untruncated: tokenizer(text).input_ids  vs  ggdm tokenize --max-length 0,
with each tokenizer: the small committed one (ref/tests/data/clip_tok_small), and a larger one
learnt here from the ImageNet class names (ref/tools/clip_tok_small.py, 3000 merges).
Strings: the 1000 ImageNet class names, hostile strings (non-ASCII, CJK, emoji, RTL,
combining marks, control characters, invalid UTF-8, > 77 tokens, empty, whitespace, special
tokens in the text) and random strings. Invalid UTF-8 is given to transformers as python's
bytes.decode("utf-8", "replace") (docs/tokenizer.md). Prints "N/N strings equal" lines;
exit status 1 on any difference.
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HOSTILE = [
    "", " ", "   \t\n\r  ", "\u3000\u00a0\u2003 \u2028\u2029", "a\u2028b\u2029c\u0085d",
    "Crème brûlée à la française", "ÅÄÖ åäö ÆØ æø", "e\u0301 E\u0301 a\u030a A\u030a", "\u00e9 vs e\u0301",
    "a\u0316\u0301\u0300 q\u0307\u0323 \u1e0b\u0323", "\u0344 \u0958 \u2126 \u212b \u1f82 \u1fb7",
    "한국어 텍스트", "\u1100\u1161\u11a8 \u1100\u1161 \uac00\u11a8", "東京タワー 中文字符 日本語のテキスト",
    "\u4e00\u9fff\u3400\U00020000 \uf900\ufa6a \U0002f800", "ｱｲｳ ＡＢＣ１２３ ﬁ ﬂ Ⅻ x² ³ ½ ٣٤٥ ௰",
    "🐶🚀 👨\u200d👩\u200d👧 ❤️ 🇫🇷 👍🏽", "שלום עולם مرحبا بالعالم \u200f\u200e", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "a\x01b\x02c\x7fd\x1fe\x1cf\x0bg\x0ch", "tab\there\nnewline\r\nend", "zero\u200bwidth\u200cnon\u200djoiner\u00adsoft",
    "\ufeffbom", "\ue000\uf8ff private \U000f0000", "\u0378\u0380 unassigned \U000e0001\U000e0041",
    "a photo of " * 30, "a" * 300, "supercalifragilisticexpialidocious" * 5, "1234567890 3.14159 1e10 0x1F",
    "!!!???...,,,;;; --- ___ *** ### @@@", "<|startoftext|>hello<|endoftext|>", "a<|endoftext|>b",
    "!<|endoftext|>!", "<|ENDOFTEXT|>", "<|ſtartoftext|>", "<|endoftext|", "<|startoftext|><|startoftext|>",
    "<|endoftext|> <|endoftext|>" * 40, "It's I'M we'LL they'Ve she'd he'S ſ'ſ 'ſ", "''' 's 't 're",
    "ΣΑΣ Σ ΌΣΟΣ σίσυφος ΣΊΣΥΦΟΣ aΣ aΣb A\u0345Σ AΣ\u0345 Σ\u0301", "İstanbul ISTANBUL ı i̇", "ß ẞ ǅ ǆ Ǆ K Å",
    "Tiếng Việt có dấu", "हिन्दी भाषा", "ภาษาไทย", "தமிழ்", "ქართული", "Ελληνικά ΑΒΓ", "Кириллица ЁЖ",
    "mixed123abc456", "a.b,c;d:e", "a-b_c~d", "don't stop", "hello world  ", "  leading", "\u0301 starts with a mark",
]

HOSTILE_BYTES = [
    b"\xff\xfe abc", b"\xc3\x28 x", b"\xe2\x82 y", b"\xf0\x9f\x98 z", b"\xc0\xaf overlong", b"\xed\xa0\x80 surrogate",
    b"\xf4\x90\x80\x80 too big", b"caf\xc3\xa9 \x80\x80 ok", b"\x00nul\x00 in\x00side", b"<|endo\x00ftext|>",
    b"<|endo\xffftext|>", b"\xe6\x9d\xb1\xe4\xba", b"a\xcc",
]

RANGES = [(0x20, 0x7E), (0xA0, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
          (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2100, 0x24FF),
          (0x3000, 0x30FF), (0x4E00, 0x4E80), (0xAC00, 0xAC40), (0xF900, 0xF920), (0xFB00, 0xFB4F),
          (0xFE00, 0xFFFF), (0x1F300, 0x1F6FF), (0x1D100, 0x1D1FF), (0x10000, 0x10FFFF)]


def random_strings(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(0, 40)
        s = []
        for _ in range(k):
            r = rng.random()
            if r < 0.35:
                s.append(rng.choice("abcdefghijklmnopqrstuvwxyz  ,.'!sSṫ"))
            else:
                lo, hi = rng.choice(RANGES)
                c = rng.randint(lo, hi)
                if 0xD800 <= c <= 0xDFFF:
                    c = 0x41
                s.append(chr(c))
        out.append("".join(s).encode("utf-8"))
    for _ in range(n // 10):  # arbitrary bytes
        out.append(bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 24))))
    return out


def ggdm_ids(ggdm, tok_dir, texts, max_len):
    """ids per text from `ggdm tokenize --hex` (batched: argv size)."""
    res = []
    batch, size = [], 0
    def flush():
        if not batch:
            return
        cmd = [ggdm, "tokenize", "--tokenizer", tok_dir, "--hex", "--max-length", str(max_len), "--"] + batch
        p = subprocess.run(cmd, capture_output=True)
        if p.returncode != 0:
            sys.exit("ggdm tokenize failed (%d): %s" % (p.returncode, p.stderr.decode(errors="replace")))
        lines = p.stdout.decode().split("\n")[:-1]
        assert len(lines) == len(batch), (len(lines), len(batch))
        res.extend([int(x) for x in l.split()] for l in lines)
        batch.clear()
    for t in texts:
        h = t.hex()
        if size + len(h) > 100000:
            flush()
            size = 0
        batch.append(h if h else "")
        size += len(h) + 1
    flush()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ggdm", default=os.path.join(ROOT, "build", "ggdm"))
    ap.add_argument("--tokenizer", default=None, help="only this tokenizer folder (vocab.json, merges.txt)")
    ap.add_argument("--classes", default=os.path.join(ROOT, "..", "shared", "data", "authors", "imagenet_classes.txt"))
    ap.add_argument("--random", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import transformers
    from transformers import CLIPTokenizer
    transformers.logging.set_verbosity_error()
    try:
        import ftfy  # noqa: F401
        sys.exit("ftfy is installed: CLIPTokenizer would take its ftfy path, ggdm implements the one without")
    except ImportError:
        pass

    classes = []
    if os.path.exists(a.classes):
        with open(a.classes, encoding="utf-8") as f:
            classes = [l.rstrip("\n") for l in f]
    else:
        print("tokenizer: %s not found: ImageNet class names skipped" % a.classes)
    sets = [("imagenet classes", [c.encode("utf-8") for c in classes]),
            ("hostile", [s.encode("utf-8") for s in HOSTILE] + HOSTILE_BYTES),
            ("random", random_strings(a.random, a.seed))]

    tmp = tempfile.mkdtemp(prefix="ggdm-tok-")
    toks = []
    if a.tokenizer:
        toks.append(("given", a.tokenizer))
    else:
        toks.append(("small (ref/tests/data/clip_tok_small)", os.path.join(ROOT, "ref", "tests", "data", "clip_tok_small")))
        if classes:
            big = os.path.join(tmp, "big")
            train = os.path.join(tmp, "train.txt")
            with open(train, "w", encoding="utf-8") as f:
                f.write("\n".join(classes * 3) + "\n")
            subprocess.run([sys.executable, os.path.join(ROOT, "ref", "tools", "clip_tok_small.py"), big, "3000", train],
                           check=True, capture_output=True)
            toks.append(("3000 merges learnt from the class names", big))

    bad = 0
    for tname, d in toks:
        ht = CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"), model_max_length=77)
        for sname, texts in sets:
            strs = [t.decode("utf-8", "replace") for t in texts]
            for mode, ml in (("77, padded", 77), ("untruncated", 0)):
                got = ggdm_ids(a.ggdm, d, texts, ml)
                if ml:
                    want = [ht(s, padding="max_length", max_length=77, truncation=True).input_ids for s in strs]
                else:
                    want = [ht(s).input_ids for s in strs]
                eq = sum(g == w for g, w in zip(got, want))
                print("tokenizer %s, %s (%s): %d/%d strings equal" % (tname, sname, mode, eq, len(texts)))
                shown = 0
                for t, g, w in zip(texts, got, want):
                    if g != w and shown < 5:
                        print("  DIFF %r\n    ggdm         %s\n    transformers %s" % (t, g, w))
                        shown += 1
                bad += len(texts) - eq
    print("tokenizer: %s" % ("all equal" if bad == 0 else "%d differences" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
