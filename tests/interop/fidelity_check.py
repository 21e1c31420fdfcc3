#!/usr/bin/env python3
"""Check a rendered stream against its input with PyYAML, a YAML 1.1 reader independent of pullseal.

usage: fidelity_check.py INPUT OUTPUT [INPUT OUTPUT ...]

For each pair, the documents of both streams are found from PyYAML's events (each document's
span runs from its start event to its end event; what lies before the first and after the last
is the stream's head and tail), and loaded with yaml.safe_load_all (YAML 1.1: `0644` is an
int, `yes`/`on` are booleans, `~` is null, merge keys and aliases are resolved). Then:

- the output holds the input's documents, in order, followed by at least one pull secret
  document (a SealedSecret or Secret labelled app.kubernetes.io/managed-by: pullseal);
- every input document that names no pullseal annotation, the stream's head and the text
  between documents come out byte for byte (the last document may gain the line break the
  stream did not end with, if it still reads the same); the output's tail starts with the
  input's;
- every annotated document loads to the input document plus imagePullSecrets entries appended
  to pod specs (mappings with `containers`), and nothing else: values compare with their
  types (`420` is not `"0644"`, `True` is not `"yes"`, `1` is not `True`); and its text is
  the input's with text inserted only (no character removed or replaced: comments, quoting
  and layout stay, which no parse can see);
- each added entry is `{name: N}` for a pull secret emitted in the workload's namespace, or
  one of the pull secrets of a ServiceAccount of the stream in that namespace (a pod that
  listed none would have had them from its account: the API server copies them only into a
  pod with an empty list, so pullseal adds them first); every pull secret emitted is named by
  some added entry.

Prints one JSON object per pair on its own line: {"input", "output", "errors": [...],
"annotated": n, "untouched": n, "added": n, "secrets": n}. Exits 0 whatever the pairs hold
(the test decides), 2 on bad arguments.
"""

import difflib
import json
import re
import sys

import yaml

REGISTRIES = "pullseal.io/registries"
NULL_LIST = re.compile(r"""(["']?imagePullSecrets["']?[ \t]*:[ \t]*)(?:~|null|Null|NULL)(?=[ \t]*(?:#|$))""", re.M)
PER_CONTAINER = "registry.pullseal.io/"


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def spans(text):
    """[(start, end)] character spans of the documents of `text`."""
    out, start = [], None
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            start = event.start_mark.index
        elif isinstance(event, yaml.DocumentEndEvent):
            out.append((start, event.end_mark.index))
    return out


def annotated(node):
    """Whether `node` holds an `annotations` mapping naming a pullseal registry."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "annotations" and isinstance(value, dict):
                if any(isinstance(k, str) and (k == REGISTRIES or k.startswith(PER_CONTAINER)) for k in value):
                    return True
            if annotated(value):
                return True
    elif isinstance(node, list):
        return any(annotated(item) for item in node)
    return False


def is_pull_secret(doc):
    if not isinstance(doc, dict) or doc.get("kind") not in ("SealedSecret", "Secret"):
        return False
    labels = (doc.get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/managed-by") == "pullseal"


def same(a, b):
    """Equal, with the same types all the way down (True == 1 in Python; not here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def compare(before, after, at, added, errors, ns=None):
    """`after` must be `before` plus appended imagePullSecrets entries in pod specs; each added
    name goes into `added` with the namespace of the object it is in."""
    if isinstance(before, dict) and isinstance(after, dict):
        ns = namespace_of(before) or ns
        for key in set(before) | set(after):
            here = f"{at}.{key}"
            if key == "imagePullSecrets" and "containers" in after:
                # A null list (`imagePullSecrets:` or `~`, as Helm templates leave it) is none.
                old = before.get(key)
                old = [] if old is None else old
                new = after.get(key)
                if not isinstance(old, list) or not isinstance(new, list):
                    errors.append(f"{here}: not a list ({old!r} -> {new!r})")
                elif not same(new[: len(old)], old):
                    errors.append(f"{here}: the existing entries changed ({old!r} -> {new!r})")
                else:
                    for entry in new[len(old):]:
                        if isinstance(entry, dict) and list(entry) == ["name"] and isinstance(entry["name"], str):
                            added.append((ns, entry["name"]))
                        else:
                            errors.append(f"{here}: added entry {entry!r} is not {{name: <string>}}")
            elif key not in before:
                errors.append(f"{here}: added ({after[key]!r})")
            elif key not in after:
                errors.append(f"{here}: removed ({before[key]!r})")
            else:
                compare(before[key], after[key], here, added, errors, ns)
    elif isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            errors.append(f"{at}: {len(before)} items became {len(after)}")
        for i, (x, y) in enumerate(zip(before, after)):
            compare(x, y, f"{at}[{i}]", added, errors, ns)
    elif not same(before, after):
        errors.append(f"{at}: {before!r} ({type(before).__name__}) became {after!r} ({type(after).__name__})")


def subsequence(short, long):
    """Whether `short` is `long` with characters removed (greedy matching decides it)."""
    it = iter(long)
    return all(c in it for c in short)


def insertions_only(before, after):
    """What was removed or replaced going from `before` to `after`, line by line: a line that
    changed (a flow collection that got an entry) must keep every character it had."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    problems = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old, new = "".join(a[i1:i2]), "".join(b[j1:j2])
        # The one thing an edit may take away: the null an empty imagePullSecrets was.
        old = NULL_LIST.sub(r"\1", old)
        if op == "delete" or (op == "replace" and not subsequence(old, new)):
            problems.append(f"text removed or replaced: {old!r} -> {new!r}"[:400])
    return problems


def namespace_of(doc):
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    return ns if isinstance(ns, str) and ns else None


def check(input_path, output_path):
    report = {"input": input_path, "output": output_path, "errors": [], "annotated": 0, "untouched": 0, "added": 0, "secrets": 0}
    errors = report["errors"]
    text_in, text_out = read(input_path), read(output_path)
    try:
        spans_in, spans_out = spans(text_in), spans(text_out)
        docs_in = list(yaml.safe_load_all(text_in))
        docs_out = list(yaml.safe_load_all(text_out))
    except yaml.YAMLError as err:
        errors.append(f"PyYAML cannot read the streams: {err}")
        return report
    n = len(spans_in)
    if len(docs_in) != n or len(docs_out) != len(spans_out):
        errors.append("PyYAML's documents and events disagree")
        return report
    secrets = docs_out[n:]
    report["secrets"] = len(secrets)
    if not secrets:
        errors.append("no pull secret was added")
    for i, doc in enumerate(secrets):
        if not is_pull_secret(doc):
            errors.append(f"output document {n + i + 1} is not a pullseal secret: {doc!r}"[:300])
    emitted = {(namespace_of(d), d["metadata"]["name"]) for d in secrets if is_pull_secret(d)}
    if len(spans_out) < n:
        errors.append(f"{n} documents in, {len(spans_out)} out")
        return report

    # Bytes: the head, every un-annotated document, the tail.
    head_in, head_out = text_in[: spans_in[0][0]] if n else text_in, text_out[: spans_out[0][0]] if spans_out else text_out
    if n and head_in != head_out:
        errors.append(f"the text before the first document changed: {head_in!r} -> {head_out!r}")
    tail_in = text_in[spans_in[-1][1]:] if n else ""
    tail_out = text_out[spans_out[n - 1][1]: spans_out[n][0] if len(spans_out) > n else len(text_out)] if n else ""
    if not tail_out.startswith(tail_in) and not (tail_in == "" and tail_out.startswith("\n")):
        errors.append(f"the text after the last document changed: {tail_in!r} -> {tail_out!r}")
    # The pull secrets each ServiceAccount of the stream gives, by namespace.
    accounts = set()
    for doc in docs_in:
        if isinstance(doc, dict) and doc.get("kind") == "ServiceAccount":
            for entry in doc.get("imagePullSecrets") or []:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    accounts.add((namespace_of(doc), entry["name"]))
    for i in range(1, n):
        gap_in = text_in[spans_in[i - 1][1]: spans_in[i][0]]
        gap_out = text_out[spans_out[i - 1][1]: spans_out[i][0]]
        if gap_in != gap_out:
            errors.append(f"the text between documents {i} and {i + 1} changed: {gap_in!r} -> {gap_out!r}")
    used = set()
    for i in range(n):
        raw_in = text_in[spans_in[i][0]: spans_in[i][1]]
        raw_out = text_out[spans_out[i][0]: spans_out[i][1]]
        if not annotated(docs_in[i]):
            report["untouched"] += 1
            last = i == n - 1 and not raw_in.endswith("\n") and raw_out == raw_in + "\n"
            if raw_in != raw_out and not last:
                errors.append(f"document {i + 1} names no registry but changed:\n--- in\n{raw_in}\n--- out\n{raw_out}")
            elif not same(docs_in[i], docs_out[i]):
                # The line break added after a stream's last line must not end up in a value.
                errors.append(f"document {i + 1} names no registry but reads differently: {docs_in[i]!r} -> {docs_out[i]!r}"[:400])
            continue
        report["annotated"] += 1
        for problem in insertions_only(raw_in, raw_out):
            errors.append(f"document {i + 1}: {problem}")
        added = []
        compare(docs_in[i], docs_out[i], f"document {i + 1}", added, errors)
        if not added:
            errors.append(f"document {i + 1} is annotated but got no imagePullSecrets")
        report["added"] += len(added)
        for ns, name in added:
            # An object without a namespace got the one render was given: any matches.
            matches = {(s_ns, s) for (s_ns, s) in emitted if s == name and (ns is None or s_ns == ns)}
            if not matches and any(s == name and (ns is None or s_ns == ns) for (s_ns, s) in accounts):
                continue
            if not matches:
                errors.append(f"document {i + 1}: imagePullSecrets names {ns}/{name}, which no emitted secret is")
            used |= matches
    for ns, name in sorted(emitted - used, key=str):
        errors.append(f"secret {ns}/{name} was emitted but no added entry names it")
    return report


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    for i in range(0, len(argv), 2):
        print(json.dumps(check(argv[i], argv[i + 1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
