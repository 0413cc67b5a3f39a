#!/usr/bin/env python3
"""Generates ref/src/clip_unicode.h: the Unicode tables of ggdm's CLIP tokenizer (ref/src/clip_tok.c).

Run with the python transformers runs under (the interop venv, ci/setup-py.sh), because the
tables must be what *that* interpreter and *that* `regex` module do:

    .venv-interop/bin/python ref/tools/clip_unicode_gen.py > ref/src/clip_unicode.h

Two Unicode databases are involved (docs/tokenizer.md):
  - python's `unicodedata` / `str` (Unicode 14.0.0 in Debian's python 3.11): transformers'
    BasicTokenizer (_clean_text: categories C* dropped, Zs and \\t\\n\\r to a space; the CJK
    blocks; NFC), str.split() (str.isspace) and str.lower() (full lower-case mapping, final
    sigma with Cased / Case_Ignorable);
  - the `regex` module's own tables for CLIP's pattern, compiled with re.IGNORECASE:
    [\\p{L}], [\\p{N}], [^\\s\\p{L}\\p{N}] and the literal letters of the pattern.
Every property is read off the interpreter by brute force over all code points (no
hand-written Unicode rule), so the tables are exactly what the python pipeline does.
"""
import sys
import unicodedata

import regex

MAXCP = 0x110000

F_DROP = 1      # _clean_text drops it (NUL, U+FFFD, category C* other than \t \n \r)
F_WS = 2        # _clean_text makes it a space (_is_whitespace: ' ' \t \n \r, Zs)
F_CJK = 4       # BasicTokenizer._is_chinese_char: a space is put either side
F_PYSPACE = 8   # str.isspace(): str.split() splits there
F_L = 16        # regex [\p{L}] (IGNORECASE)
F_N = 32        # regex [\p{N}] (IGNORECASE)
F_O = 64        # regex [^\s\p{L}\p{N}] (IGNORECASE)
F_CASED = 128   # Cased (str.lower's final-sigma rule)
F_CI = 256      # Case_Ignorable (the same rule)


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def flags_of(cp, rl, rn, ro):
    c = chr(cp)
    cat = unicodedata.category(c)
    f = 0
    if cp == 0 or cp == 0xFFFD or (cat.startswith("C") and c not in "\t\n\r"):
        f |= F_DROP
    if c in " \t\n\r" or cat == "Zs":
        f |= F_WS
    if is_cjk(cp):
        f |= F_CJK
    if c.isspace():
        f |= F_PYSPACE
    if rl.fullmatch(c):
        f |= F_L
    if rn.fullmatch(c):
        f |= F_N
    if ro.fullmatch(c):
        f |= F_O
    if 0xD800 <= cp <= 0xDFFF:
        return f  # surrogates: never in decoded UTF-8; lower() context tests need real strings
    cased = c.islower() or c.isupper() or c.istitle()
    # Case_Ignorable, read off str.lower()'s final-sigma rule (its backward scan from the
    # sigma skips case-ignorable characters and asks whether the first other one is cased):
    # a cased c: '1' c SIGMA has a final sigma iff the scan stops at c (c not ignorable);
    # any other c: 'A' c SIGMA has a final sigma iff the scan skips c and reaches 'A'.
    if cased:
        f |= F_CASED
        if ("1" + c + "\u03a3").lower()[-1] == "\u03c3":
            f |= F_CI
    elif ("A" + c + "\u03a3").lower()[-1] == "\u03c2":
        f |= F_CI
    return f


def main():
    ic = regex.IGNORECASE
    rl = regex.compile(r"[\p{L}]", ic)
    rn = regex.compile(r"[\p{N}]", ic)
    ro = regex.compile(r"[^\s\p{L}\p{N}]", ic)

    runs = []  # (start, flags)
    prev = None
    ccc_runs = []
    prev_ccc = None
    decomp = []  # (cp, [cps]) full canonical decomposition (NFD of the char), Hangul excluded
    comp = []    # (a, b, c)
    lower = []   # (cp, [cps])
    for cp in range(MAXCP):
        f = flags_of(cp, rl, rn, ro)
        if f != prev:
            runs.append((cp, f))
            prev = f
        c = chr(cp)
        k = unicodedata.combining(c)
        if k != prev_ccc:
            ccc_runs.append((cp, k))
            prev_ccc = k
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if not (0xAC00 <= cp <= 0xD7A3):
            d = unicodedata.normalize("NFD", c)
            if d != c:
                decomp.append((cp, [ord(x) for x in d]))
            m = unicodedata.decomposition(c)
            if m and not m.startswith("<"):
                parts = [int(x, 16) for x in m.split()]
                if len(parts) == 2 and unicodedata.normalize("NFC", c) == c:
                    comp.append((parts[0], parts[1], cp))
        lo = c.lower()
        if lo != c:
            lower.append((cp, [ord(x) for x in lo]))

    # Case-insensitive literal letters of the pattern
    lits = sorted(set("<|startoftext|><|endoftext|>'s't're've'm'll'd"))
    litsets = {}
    for ch in lits:
        r = regex.compile(regex.escape(ch), ic)
        litsets[ch] = [cp for cp in range(MAXCP) if not (0xD800 <= cp <= 0xDFFF) and r.fullmatch(chr(cp))]

    # self-checks of the assumptions clip_tok.c makes
    maxd = max(len(v) for _, v in decomp)
    maxl = max(len(v) for _, v in lower)
    assert maxd <= 4 and maxl <= 3, (maxd, maxl)
    assert all(unicodedata.combining(chr(a)) == 0 for a, _, _ in comp)
    assert len({(a, b) for a, b, _ in comp}) == len(comp)
    # ggdm_clip_tok_work_bytes' bound (5 bytes of lower-cased NFC text per input byte) rests on:
    # NFD at most triples a character's UTF-8 bytes, a composite is no longer than its two
    # parts, str.lower() at most multiplies a character's bytes by 1.5 (and CJK's " c " 5/3).
    b8 = lambda s: len(s.encode("utf-8"))
    assert all(b8(unicodedata.normalize("NFD", chr(c))) <= 3 * b8(chr(c)) for c, _ in decomp)
    assert all(b8(chr(c)) <= b8(chr(a)) + b8(chr(b)) for a, b, c in comp)
    assert all(2 * b8("".join(map(chr, v))) <= 3 * b8(chr(c)) for c, v in lower)

    out = sys.stdout
    w = out.write
    w("/*\n * clip_unicode.h - GENERATED by ref/tools/clip_unicode_gen.py; do not edit.\n")
    w(" * python %s, unicodedata %s, regex %s.\n" % (sys.version.split()[0], unicodedata.unidata_version,
                                                     regex.__version__))
    w(" * The Unicode tables of ref/src/clip_tok.c (docs/tokenizer.md). Included by clip_tok.c only.\n */\n")
    w("#ifndef GGDM_CLIP_UNICODE_H\n#define GGDM_CLIP_UNICODE_H\n\n#include <stdint.h>\n\n")
    w("#define CU_UNIDATA_VERSION \"%s\"\n" % unicodedata.unidata_version)
    w("#define CU_REGEX_VERSION \"%s\"\n" % regex.__version__)
    for name, val in [("DROP", F_DROP), ("WS", F_WS), ("CJK", F_CJK), ("PYSPACE", F_PYSPACE), ("L", F_L),
                      ("N", F_N), ("O", F_O), ("CASED", F_CASED), ("CI", F_CI)]:
        w("#define CU_%s %du\n" % (name, val))
    w("#define CU_MAX_DECOMP %d /* longest canonical decomposition */\n" % maxd)
    w("#define CU_MAX_LOWER %d /* longest full lower-case mapping */\n\n" % maxl)

    def arr(ctype, name, rows, per_line, inner=""):
        w("static const %s %s[%d]%s = {\n" % (ctype, name, len(rows), inner))
        for i in range(0, len(rows), per_line):
            w("    " + " ".join(rows[i:i + per_line]) + "\n")
        w("};\n\n")

    w("/* Property runs: flags (CU_*) of every code point from start up to the next run's start. */\n")
    arr("uint32_t", "cu_prop_start", ["0x%X," % s for s, _ in runs], 10)
    arr("uint16_t", "cu_prop_flags", ["%d," % f for _, f in runs], 20)
    w("/* Canonical combining class runs. */\n")
    arr("uint32_t", "cu_ccc_start", ["0x%X," % s for s, _ in ccc_runs], 10)
    arr("uint8_t", "cu_ccc_val", ["%d," % k for _, k in ccc_runs], 20)
    w("/* Full canonical decompositions (NFD of the one character), by code point; Hangul is algorithmic. */\n")
    arr("uint32_t", "cu_decomp_cp", ["0x%X," % c for c, _ in decomp], 10)
    arr("uint32_t", "cu_decomp_map", ["{%s}," % ", ".join("0x%X" % x for x in (v + [0] * (4 - len(v))))
                                      for _, v in decomp], 3, "[4]")
    w("/* Primary composites: (first, second) -> composite, sorted by (first, second). */\n")
    comp.sort()
    arr("uint32_t", "cu_comp", ["{0x%X, 0x%X, 0x%X}," % t for t in comp], 3, "[3]")
    w("/* str.lower() of one character, where it differs (U+03A3's final form is contextual). */\n")
    arr("uint32_t", "cu_lower_cp", ["0x%X," % c for c, _ in lower], 10)
    arr("uint32_t", "cu_lower_map", ["{%s}," % ", ".join("0x%X" % x for x in (v + [0] * (3 - len(v))))
                                     for _, v in lower], 3, "[3]")
    w("/* The code points each literal character of CLIP's pattern matches under IGNORECASE. */\n")
    allcps = []
    idx = []
    for ch in lits:
        idx.append((ch, len(allcps), len(litsets[ch])))
        allcps += litsets[ch]
    arr("uint32_t", "cu_lit_cps", ["0x%X," % c for c in allcps], 10)
    w("static const struct { char ch; uint8_t off, n; } cu_lit[%d] = {\n" % len(idx))
    for ch, o, n in idx:
        w("    {'%s', %d, %d},\n" % ("\\'" if ch == "'" else ch, o, n))
    w("};\n\n")
    w("#endif /* GGDM_CLIP_UNICODE_H */\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
