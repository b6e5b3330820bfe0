#!/usr/bin/env python3
"""Builds train/injection/dataset.jsonl.gz, the labelled texts the injection classifier is trained and evaluated on.

Reads pinned commits of public repositories (fetched as git mirrors; see DATA_CARD.md for the list, licences and what
is taken from each) and the deepset sample of ../shared/eval. Every row gets a split, decided here with a seeded
random generator and never by looking at the texts: `train` rows are the only ones the trainer reads; `heldout` rows
are only ever scored by InjectionEvalTest. Groups that could leak (a BIPIA context, a GPTFuzz template or question, an
ATLAS entry) are split as a whole, so no held-out row shares its attack or its carrier with a training row.

Usage: prepare_data.py --mirrors /work/.mirror --eval ../shared/eval --out train/injection/dataset.jsonl.gz
"""
import argparse
import csv
import gzip
import io
import json
import random
import re
import subprocess
import sys

import yaml

SEED = 20261203

SOURCES = {
    "bipia": ("microsoft/BIPIA", "1a2a91d"),
    "gptfuzz": ("sherdencooper/GPTFuzz", "1eddeb565740ae311b5f4950492b011a6f866fe7"),
    "atlas": ("mitre-atlas/atlas-data", "8ee2c689a7d3c65ddf2bfe4950a4f3ecffa6f48b"),
    "selfinstruct": ("yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23"),
    "fastchat": ("lm-sys/FastChat", "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"),
    "gsm8k": ("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c"),
}


class Repo:
    def __init__(self, mirrors, key):
        name, commit = SOURCES[key]
        self.git = f"{mirrors}/{name.replace('/', '+')}/repo"
        self.commit = subprocess.check_output(["git", "-C", self.git, "rev-parse", commit], text=True).strip()
        self.name = name

    def read(self, path):
        return subprocess.check_output(["git", "-C", self.git, "show", f"{self.commit}:{path}"]).decode("utf-8")

    def ref(self, path, row):
        return f"{self.name}@{self.commit[:12]}:{path}#{row}"


def split_of(rng, heldout_share):
    return "heldout" if rng.random() < heldout_share else "train"


def row(text, label, category, source, split, ref, **extra):
    out = {"text": text, "label": label, "category": category, "source": source, "split": split, "ref": ref}
    out.update(extra)
    return out


def deepset(eval_dir):
    rows = []
    with open(f"{eval_dir}/prompt_injection_deepset.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            d = json.loads(line)
            attack = d["label"] == "injection"
            # the dataset's own split: its test part is the held-out part, as in the rule-based eval
            split = "heldout" if d["orig_split"] == "test" else "train"
            rows.append(row(d["text"], "injection" if attack else "benign",
                            "direct_injection" if attack else "benign_chat", "deepset", split,
                            f"shared/eval/prompt_injection_deepset.jsonl#{i}"))
    return rows


def insert(context, attack, where, rng):
    if where == "start":
        return attack + "\n" + context, 0
    if where == "end":
        return context + "\n" + attack, len(context) + 1
    # middle: at a line or sentence boundary near a random point
    cuts = [m.end() for m in re.finditer(r"(?:\n|[.!?] )", context)]
    at = rng.choice(cuts) if cuts else len(context) // 2
    return context[:at] + " " + attack + " " + context[at:], at + 1


def bipia(mirrors, rng):
    repo = Repo(mirrors, "bipia")
    rows = []
    attacks = {}
    for part in ("train", "test"):
        for kind in ("text", "code"):
            path = f"benchmark/{kind}_attack_{part}.json"
            data = json.loads(repo.read(path))
            attacks[(kind, part)] = [(f"{path}#{name}/{i}", s) for name, items in data.items()
                                     for i, s in enumerate(items)]
    per_context = {"train": 6, "test": 3}
    for task, kind in (("email", "text"), ("table", "text"), ("code", "code")):
        for part in ("train", "test"):
            path = f"benchmark/{task}/{part}.jsonl"
            split = "heldout" if part == "test" else "train"
            lines = repo.read(path).splitlines()
            # the table task has 900 training contexts: 150 of them keep the sources balanced
            keep = set(rng.sample(range(len(lines)), min(len(lines), 150))) if part == "train" else None
            for i, line in enumerate(lines):
                if keep is not None and i not in keep:
                    continue
                d = json.loads(line)
                context = "\n".join(d["context"]) if isinstance(d["context"], list) else d["context"]
                if not context.strip():
                    continue
                rows.append(row(context, "benign", "benign_document", "bipia-" + task, split, repo.ref(path, i)))
                for ref, attack in rng.sample(attacks[(kind, part)], per_context[part]):
                    where = rng.choice(["start", "middle", "end"])
                    text, at = insert(context, attack, where, rng)
                    rows.append(row(text, "injection", "indirect_injection", "bipia-" + task, split,
                                    repo.ref(path, i) + "+" + ref, attack_span=[at, at + len(attack)],
                                    position=where))
    return rows


def gptfuzz(mirrors, rng):
    repo = Repo(mirrors, "gptfuzz")
    templates = list(csv.DictReader(io.StringIO(repo.read("datasets/prompts/GPTFuzzer.csv"))))
    questions = list(csv.DictReader(io.StringIO(repo.read("datasets/questions/question_list.csv"))))
    t_split = {t["id"]: split_of(rng, 0.25) for t in templates}
    q_split = {q["index"]: split_of(rng, 0.25) for q in questions}
    rows = []
    for t in templates:
        split = t_split[t["id"]]
        pool = [q for q in questions if q_split[q["index"]] == split]
        for q in rng.sample(pool, 6 if split == "train" else 3):
            text = t["text"].replace("[INSERT PROMPT HERE]", q["text"])
            rows.append(row(text, "jailbreak", "jailbreak", "gptfuzz", split,
                            repo.ref("datasets/prompts/GPTFuzzer.csv", t["id"]) + "+q" + q["index"]))
    return rows


def benign_chat(mirrors, rng):
    rows = []
    si = Repo(mirrors, "selfinstruct")
    for path in ("data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl"):
        for i, line in enumerate(si.read(path).splitlines()):
            d = json.loads(line)
            inst = d["instances"][0] if d.get("instances") else {}
            text = d["instruction"] + ("\n\n" + inst["input"] if inst.get("input") else "")
            rows.append(row(text, "benign", "benign_chat", "self-instruct", split_of(rng, 0.3), si.ref(path, i)))
    fc = Repo(mirrors, "fastchat")
    for path in ("fastchat/llm_judge/data/mt_bench/question.jsonl", "fastchat/llm_judge/data/vicuna_bench/question.jsonl"):
        for i, line in enumerate(fc.read(path).splitlines()):
            d = json.loads(line)
            split = split_of(rng, 0.3)
            for t, turn in enumerate(d["turns"]):
                rows.append(row(turn, "benign", "benign_chat", "fastchat-bench", split, fc.ref(path, f"{i}/{t}")))
    gsm = Repo(mirrors, "gsm8k")
    path = "grade_school_math/data/test.jsonl"
    lines = gsm.read(path).splitlines()
    for i in sorted(rng.sample(range(len(lines)), 300)):
        rows.append(row(json.loads(lines[i])["question"], "benign", "benign_chat", "gsm8k", split_of(rng, 0.3),
                        gsm.ref(path, i)))
    return rows


def clean_atlas(text):
    text = re.sub(r"\{\{\s*create_internal_link\((\w+)\)\s*\}\}", lambda m: m.group(1).replace("_", " "), text)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def atlas(mirrors, rng):
    repo = Repo(mirrors, "atlas")
    rows = []
    for path in ("data/techniques.yaml", "data/mitigations.yaml"):
        for d in yaml.safe_load(repo.read(path)):
            if isinstance(d, dict) and d.get("description"):
                rows.append(row(clean_atlas(d["name"] + ". " + d["description"]), "benign", "benign_security",
                                "mitre-atlas", split_of(rng, 0.3), repo.ref(path, d["id"])))
    tree = subprocess.check_output(["git", "-C", repo.git, "ls-tree", "--name-only", repo.commit,
                                    "data/case-studies/"], text=True).split()
    for path in sorted(tree):
        d = yaml.safe_load(repo.read(path))
        split = split_of(rng, 0.3)
        rows.append(row(clean_atlas(d["name"] + ". " + d.get("summary", "")), "benign", "benign_security",
                        "mitre-atlas", split, repo.ref(path, "summary")))
        for j, step in enumerate(d.get("procedure") or []):
            if len(step.get("description", "")) > 40:
                rows.append(row(clean_atlas(step["description"]), "benign", "benign_security", "mitre-atlas", split,
                                repo.ref(path, f"procedure/{j}")))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--eval", default="../shared/eval")
    ap.add_argument("--out", default="train/injection/dataset.jsonl.gz")
    args = ap.parse_args()
    rows = deepset(args.eval)
    # one generator per source, so adding a source never reshuffles another's split
    rows += bipia(args.mirrors, random.Random(SEED + 1))
    rows += gptfuzz(args.mirrors, random.Random(SEED + 2))
    rows += benign_chat(args.mirrors, random.Random(SEED + 3))
    rows += atlas(args.mirrors, random.Random(SEED + 4))
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:
        for r in rows:
            f.write((json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    counts = {}
    for r in rows:
        key = (r["source"], r["category"], r["split"])
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print(*key, counts[key], sep="\t")
    print("rows", len(rows), file=sys.stderr)


if __name__ == "__main__":
    main()
