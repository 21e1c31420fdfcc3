#!/usr/bin/env python3
"""Writes the workloads of scripts/bench (issue 9) into OUT_DIR: plaintext catalogs, for the
bench to encrypt with the real sops, and manifest streams.

  small.plain.yaml   10 registries (9 generic, 1 ECR with refresh: external-secrets) and two
                     clusters: `bench` (sealed-secrets, strict) and `bench-flux` (seal: sops)
  fleet.plain.yaml   the same 10 registries and 50 sealed-secrets clusters `c00`..`c49`
  large.plain.yaml   2,000 generic registries `reg-0000`.. and the clusters of small.plain.yaml
  small.yaml         20 documents, 2 annotated Deployments (namespaces shop and web, one
                     registry each): 2 pull secrets
  small-ecr.yaml     small.yaml with the second Deployment pulling from the ECR registry: one
                     pull secret, and the ECR registry's keys Secret (2 sealed values),
                     generator and ExternalSecret
  large.yaml         10,000 documents of about 14 MB: 2,000 annotated Deployments over 200
                     namespaces, Deployment i pulling from registry reg-i (2,000 pull secrets),
                     the rest ConfigMaps carrying the bulk, Services and comment-only documents
  empty.yaml         an empty stream (the catalog-decryption-only figure)

Every certificate is testdata/keys/sealed-secrets-test.crt and every age recipient the test
key's: the bench measures work, not key management. Credentials are made up.

usage: gen-bench-workloads.py OUT_DIR ROOT"""
import os
import sys

out, root = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
cert = open(os.path.join(root, "testdata/keys/sealed-secrets-test.crt")).read().strip()
recipient = next(
    line.split(": ", 1)[1].strip()
    for line in open(os.path.join(root, "testdata/keys/age-test.txt"))
    if line.startswith("# public key: ")
)
cert_block = "\n".join("      " + line for line in cert.splitlines())


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


def generic(name, i):
    return (
        f"  {name}:\n    type: generic\n    server: r{i}.registry.example.com\n"
        f"    username: bot-{i}\n    password: pw-{i}-{'x' * 24}\n    email: bot-{i}@example.com\n"
    )


ECR = (
    "  ecr-main:\n    type: ecr\n    server: 123456789012.dkr.ecr.eu-west-1.amazonaws.com\n"
    "    region: eu-west-1\n    accessKeyId: AKIABENCH00000000000\n"
    "    secretAccessKey: bench-secret-access-key-0000000000000000\n"
    "    refresh: external-secrets\n"
)


def cluster(name):
    return f"  {name}:\n    seal: sealed-secrets\n    scope: strict\n    certificate: |\n{cert_block}\n"


HEAD = "apiVersion: pullseal.io/v1alpha1\nkind: RegistryCatalog\nregistries:\n"
FLUX = f"  bench-flux:\n    seal: sops\n    ageRecipients: [\"{recipient}\"]\n"
small_registries = "".join(generic(f"reg-{i:04}", i) for i in range(9)) + ECR
write("small.plain.yaml", HEAD + small_registries + "clusters:\n" + cluster("bench") + FLUX)
write(
    "fleet.plain.yaml",
    HEAD + small_registries + "clusters:\n" + "".join(cluster(f"c{i:02}") for i in range(50)),
)
write(
    "large.plain.yaml",
    HEAD + "".join(generic(f"reg-{i:04}", i) for i in range(2000)) + "clusters:\n" + cluster("bench") + FLUX,
)


def deployment(name, namespace, registry, host):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
  labels: {{app: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
      annotations:
        pullseal.io/registries: {registry}
    spec:
      containers:
        - name: app
          image: {host}/shop/{name}:1.0
          ports: [{{containerPort: 8080}}]
      volumes:
        - name: cfg
          configMap: {{name: cfg-{name}, defaultMode: 0644}}
"""


def configmap(i, namespace, lines):
    pad = ("    " + "x" * 76 + "\n") * lines
    return f"""# Source: chart/templates/cm-{i}.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-{i}
  namespace: {namespace}
data:
  enabled: "yes"
  mode: "0644"
  payload: |
{pad}"""


def service(i, namespace):
    return f"""apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: {namespace}}}
spec:
  ports: [{{port: 80, targetPort: 8080}}]
"""


def small(second):
    docs = [deployment("shop", "shop", "reg-0000", "r0.registry.example.com"), second]
    for i in range(18):
        ns = ("shop", "web")[i % 2]
        docs.append(service(i, ns) if i % 3 == 0 else configmap(i, ns, 4))
    return "---\n".join(docs)


write("small.yaml", small(deployment("web", "web", "reg-0001", "r1.registry.example.com")))
write(
    "small-ecr.yaml",
    small(deployment("web", "web", "ecr-main", "123456789012.dkr.ecr.eu-west-1.amazonaws.com")),
)

docs = []
for i in range(10000):
    ns = f"ns-{i % 200:03}"
    if i % 5 == 0:
        r = i // 5
        docs.append(deployment(f"app-{r}", ns, f"reg-{r:04}", f"r{r}.registry.example.com"))
    elif i % 5 == 1:
        docs.append(service(i, ns))
    elif i % 50 == 2:
        docs.append("# an empty document, as Helm leaves them\n")
    else:
        docs.append(configmap(i, ns, 25))
write("large.yaml", "---\n".join(docs))
write("empty.yaml", "")
