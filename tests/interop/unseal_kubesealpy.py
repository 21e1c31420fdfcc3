#!/usr/bin/env python3
"""Unseal every SealedSecret in a YAML stream with the third-party PyPI `kubesealpy` library.

usage: unseal_kubesealpy.py PRIVATE_KEY_PEM SEALED_SECRET_YAML

An independent check that pullseal's sealed values open the way the sealed-secrets controller
opens them. For every `kind: SealedSecret` document (other documents are skipped) and every
`spec.encryptedData` entry, the value is decrypted with kubesealpy 1.0.1 (`Unsealer.unseal_value`)
under the label the controller would use:

- namespace and name come from the SealedSecret's own `metadata`, not from `spec.template`;
- the scope comes from its *top-level* `metadata.annotations`, as in the controller's
  `SecretScope`: `sealedsecrets.bitnami.com/cluster-wide: "true"` wins over
  `sealedsecrets.bitnami.com/namespace-wide: "true"`, else strict. The value must be exactly
  the string "true" (kubesealpy's own `scope_from_annotations` also accepts "True"; the
  controller does not, so scope detection is done here).

Prints `{"<namespace>/<name>": {"<key>": "<decrypted utf-8>"}}` as JSON on stdout (a SealedSecret
without a namespace is listed as "/<name>"). Exits 1, naming the document and key but never a
value, if any entry does not open, is not UTF-8, or if there is no SealedSecret at all.

Setup: scripts/install-test-peers puts kubesealpy 1.0.1 (with cryptography and pyyaml) into its
own venv; run this script with that venv's python (scripts/unseal does).
TEST USE ONLY: the private key must be a test key (testdata/keys/sealed-secrets-test.key).
"""

import argparse
import base64
import binascii
import json
import sys

import yaml
from kubesealpy import KubesealPyError, SealingScope, Unsealer

CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"


class UnsealFailure(Exception):
    """One entry (or document) could not be unsealed; the message never contains a value."""


def scope_of(annotations, where):
    if annotations is None:
        return SealingScope.STRICT
    if not isinstance(annotations, dict):
        raise UnsealFailure(f"{where}: metadata.annotations is not a mapping")
    for key in (CLUSTER_WIDE, NAMESPACE_WIDE):
        value = annotations.get(key)
        if value is not None and not isinstance(value, str):
            # An unquoted `true` is a YAML boolean, which the API server rejects for annotations.
            raise UnsealFailure(f"{where}: annotation {key} is a {type(value).__name__}, not a string")
    if annotations.get(CLUSTER_WIDE) == "true":
        return SealingScope.CLUSTER_WIDE
    if annotations.get(NAMESPACE_WIDE) == "true":
        return SealingScope.NAMESPACE_WIDE
    return SealingScope.STRICT


def unseal_document(unsealer, doc, index):
    metadata = doc.get("metadata") or {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    where = f"document {index} ({namespace or ''}/{name})"
    if not isinstance(name, str) or not name:
        raise UnsealFailure(f"document {index}: SealedSecret has no metadata.name")
    if namespace is not None and not isinstance(namespace, str):
        raise UnsealFailure(f"{where}: metadata.namespace is not a string")
    scope = scope_of(metadata.get("annotations"), where)
    encrypted = (doc.get("spec") or {}).get("encryptedData") or {}
    if not isinstance(encrypted, dict) or not encrypted:
        raise UnsealFailure(f"{where}: spec.encryptedData is empty or not a mapping")
    opened = {}
    for key in sorted(encrypted):
        blob = encrypted[key]
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, TypeError, ValueError) as err:
            raise UnsealFailure(f"{where}: encryptedData[{key!r}] is not base64: {err}") from None
        try:
            plaintext = unsealer.unseal_value(raw, namespace=namespace, name=name, scope=scope)
        except (KubesealPyError, ValueError) as err:
            raise UnsealFailure(
                f"{where}: encryptedData[{key!r}] does not open with scope {scope.value}: "
                f"{type(err).__name__}"
            ) from None
        try:
            opened[key] = plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsealFailure(f"{where}: encryptedData[{key!r}] opened but is not UTF-8") from None
    return f"{namespace or ''}/{name}", opened


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("private_key", metavar="PRIVATE_KEY_PEM")
    parser.add_argument("sealed", metavar="SEALED_SECRET_YAML")
    args = parser.parse_args(argv)

    unsealer = Unsealer.from_private_key_file(args.private_key)
    with open(args.sealed, encoding="utf-8") as stream:
        docs = list(yaml.safe_load_all(stream))
    # A List (a KRM ResourceList too) holds its objects in `items`.
    docs = [
        item
        for doc in docs
        for item in (doc.get("items") or [] if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List") else [doc])
    ]

    result = {}
    try:
        for index, doc in enumerate(docs):
            if not isinstance(doc, dict) or doc.get("kind") != "SealedSecret":
                continue
            if doc.get("apiVersion") != "bitnami.com/v1alpha1":
                raise UnsealFailure(f"document {index}: SealedSecret apiVersion is {doc.get('apiVersion')!r}")
            ident, opened = unseal_document(unsealer, doc, index)
            if ident in result:
                raise UnsealFailure(f"document {index}: a second SealedSecret {ident}")
            result[ident] = opened
        if not result:
            raise UnsealFailure(f"{args.sealed}: no SealedSecret documents")
    except UnsealFailure as failure:
        print(f"unseal_kubesealpy: {failure}", file=sys.stderr)
        return 1
    text = json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    sys.stdout.buffer.write(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
