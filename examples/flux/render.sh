#!/usr/bin/env bash
# CI step of the rendered-manifests flow: render every cluster of the catalog into
# rendered/<cluster>/manifests.yaml and commit the result, which Flux then applies.
# The catalog's age identity comes from the CI secret store (SOPS_AGE_KEY or SOPS_AGE_KEY_FILE);
# a seal: sops cluster's Secrets are encrypted to that cluster's ageRecipients, so what is
# committed opens only in the cluster (and for catalog holders, who can re-derive nothing new).
set -euo pipefail
pullseal render --all-clusters --out-dir rendered/ manifests/
git add rendered/
# Deterministic output: nothing to commit when nothing changed.
git diff --cached --quiet || git commit -m "render: pull secrets for every cluster"
