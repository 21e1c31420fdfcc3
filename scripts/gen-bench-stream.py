#!/usr/bin/env python3
"""Writes a monorepo-sized manifest stream for scripts/bench: DOCS documents, about SIZE_MB in
all, one in twenty a Deployment that references registries of the TEST catalog, the rest
ConfigMaps, Services and plain Deployments with comments and YAML 1.1 scalars.

usage: gen-bench-stream.py OUT [DOCS] [SIZE_MB]"""
import sys

out, docs, size_mb = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000, float(sys.argv[3]) if len(sys.argv) > 3 else 20
# ConfigMaps (two thirds of the documents) carry the bulk of the bytes.
per_doc = int(size_mb * 1024 * 1024 / (docs * 2 / 3))
parts = []
for i in range(docs):
    ns = f"team-{i % 37}"
    if i % 20 == 0:
        doc = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: {ns}
spec:
  template:
    metadata:
      annotations:
        pullseal.io/registries: company, quay-team
    spec:
      containers:
        - name: app
          image: registry.example.com:5000/shop/app-{i}:1.0
        - name: side
          image: quay.io/acme/side:{i}
      volumes:
        - name: cfg
          configMap: {{name: cfg-{i}, defaultMode: 0644}}
"""
    elif i % 3 == 0:
        doc = f"""apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: {ns}}}
spec:
  ports: [{{port: 80, targetPort: 8080}}]
"""
    else:
        doc = f"""# Source: chart/templates/cm-{i}.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-{i}
  namespace: {ns}
data:
  enabled: "yes"
  mode: "0644"
  payload: |
"""
    pad = per_doc - len(doc) - 4
    if pad > 0 and "payload" in doc:
        line = "    " + "x" * 76 + "\n"
        doc += line * (pad // len(line))
    parts.append(doc)
with open(out, "w") as f:
    f.write("---\n".join(parts))
