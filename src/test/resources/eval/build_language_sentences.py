#!/usr/bin/env python3
"""Builds language_sentences.jsonl: labelled sentences for LanguageEvalTest.

Source: the test sentences of the Lingua language detector (github.com/pemistahl/lingua, Apache-2.0,
src/accuracyReport/resources/language-testdata/sentences/<lang>.txt), which Lingua's author drew from the
Wortschatz corpora of Leipzig University ("arbitrarily chosen websites", kept apart from his training corpora).
The identifier under test (optimaize language-detector profiles) was built from Wikipedia, so these
sentences were not used to build it. Usage: build_language_sentences.py <lingua checkout> > language_sentences.jsonl
(with a bare git mirror: LINGUA_GIT=<git dir>, the files are read with `git show HEAD:<path>`).
"""
import json, os, random, subprocess, sys, unicodedata

LANGS = "en de fr es it pt nl pl sv tr ro cs ru uk bg zh ja ko ar fa he hi el th".split()
PER_LANGUAGE = 40
PATH = "src/accuracyReport/resources/language-testdata/sentences/%s.txt"


def letter_equivalents(text):
    # Han, kana and hangul count three letters each, as in LanguageIdentifier.letters.
    n = 0
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        n += 3 if name.startswith(("CJK UNIFIED", "HIRAGANA", "KATAKANA", "HANGUL")) else 1
    return n


def read(lang):
    git = os.environ.get("LINGUA_GIT")
    if git:
        return subprocess.run(["git", "--git-dir", git, "show", "HEAD:" + PATH % lang], check=True,
                              capture_output=True, text=True).stdout.splitlines()
    with open(os.path.join(sys.argv[1], PATH % lang), encoding="utf-8") as f:
        return f.read().splitlines()


rng = random.Random(20261203)
for lang in LANGS:
    lines = [(i + 1, l.strip()) for i, l in enumerate(read(lang))]
    fit = [(i, l) for i, l in lines if 60 <= letter_equivalents(l) and len(l) <= 400]
    for line, text in sorted(rng.sample(fit, PER_LANGUAGE)):
        print(json.dumps({"lang": lang, "text": text, "line": line}, ensure_ascii=False))
