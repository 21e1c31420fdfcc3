//! How an image and a catalog server agree, case by case, with the kubelet source each case
//! follows: `pkg/credentialprovider/keyring.go` (`BasicDockerKeyring.Add`, `Lookup`,
//! `URLsMatch`, `isDefaultRegistryMatch`) and the image normalisation of
//! `pkg/util/parsers.ParseImageName` (distribution's `ParseNormalizedNamed`).
//!
//! pullseal says a registry *serves* an image exactly when the kubelet would offer that
//! registry's credential for it, with one deliberate narrowing, marked below: a server path
//! prefixes the image path on whole components (the kubelet compares strings).

use pullseal::reference::{Image, Server};

/// (catalog server, image, serves, why)
const CASES: &[(&str, &str, bool, &str)] = &[
    // URLsMatch: equal label counts, `filepath.Match` per label (`*` never crosses a `.`).
    (
        "*.kubernetes.io",
        "abc.kubernetes.io/x",
        true,
        "URLsMatch: glob per label",
    ),
    (
        "*.kubernetes.io",
        "kubernetes.io/x",
        false,
        "URLsMatch: label counts differ",
    ),
    (
        "*.*.kubernetes.io",
        "abc.kubernetes.io/x",
        false,
        "URLsMatch: label counts differ",
    ),
    (
        "prefix.*.io",
        "prefix.kubernetes.io/x",
        true,
        "URLsMatch: glob in the middle",
    ),
    (
        "*-good.kubernetes.io",
        "prefix-good.kubernetes.io/x",
        true,
        "URLsMatch: glob inside a label",
    ),
    (
        "*.dkr.ecr.*.amazonaws.com",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
        true,
        "URLsMatch: ECR hosts",
    ),
    ("gcr.io", "eu.gcr.io/p/i", false, "URLsMatch: label counts differ"),
    // URLsMatch: the ports must be equal (SplitURL).
    (
        "registry.example.com:5000",
        "registry.example.com:5000/a/b:1",
        true,
        "URLsMatch: same port",
    ),
    (
        "registry.example.com",
        "registry.example.com:5000/a",
        false,
        "URLsMatch: port differs",
    ),
    (
        "registry.example.com:5000",
        "registry.example.com/a",
        false,
        "URLsMatch: port differs",
    ),
    // URLsMatch: the key's path prefixes the image's path.
    (
        "my-registry.io/images",
        "my-registry.io/images/foo",
        true,
        "URLsMatch: path prefix",
    ),
    (
        "quay.io/acme",
        "quay.io/acme/app:1",
        true,
        "URLsMatch: path prefix",
    ),
    // Narrowed on purpose: the kubelet's strings.HasPrefix would offer these.
    (
        "quay.io/acme",
        "quay.io/acmex/app",
        false,
        "pullseal: whole path components",
    ),
    (
        "my-registry.io/images",
        "my-registry.io/imagesfoo/x",
        false,
        "pullseal: whole path components",
    ),
    // Add: one leading /v1/ or /v2/ is dropped from a key.
    (
        "r.example.com/v2/team",
        "r.example.com/team/app",
        true,
        "Add: /v2/ dropped",
    ),
    (
        "https://r.example.com/v1/",
        "r.example.com/any/app",
        true,
        "Add: scheme and /v1/ dropped",
    ),
    // url.Parse keeps the host's case and filepath.Match compares it exactly.
    ("quay.io", "Quay.io/acme/app", false, "URLsMatch: case matters"),
    ("Quay.io", "Quay.io/acme/app", true, "URLsMatch: case matters"),
    // Docker Hub: the key is index.docker.io (`https://index.docker.io/v1/`), which matches no
    // normalised image by URLsMatch; Lookup falls back to it when isDefaultRegistryMatch holds.
    (
        "docker.io",
        "nginx",
        true,
        "isDefaultRegistryMatch: docker.io/library/nginx",
    ),
    (
        "https://index.docker.io/v1/",
        "library/nginx:1.27",
        true,
        "isDefaultRegistryMatch",
    ),
    (
        "docker.io",
        "index.docker.io/library/nginx",
        true,
        "ParseNormalizedNamed: index.docker.io is docker.io",
    ),
    ("docker.io", "bitnami/redis", true, "isDefaultRegistryMatch"),
    (
        "docker.io",
        "registry-1.docker.io/library/nginx",
        false,
        "isDefaultRegistryMatch: parts[0] has a '.'",
    ),
    (
        "registry-1.docker.io",
        "registry-1.docker.io/library/nginx",
        true,
        "URLsMatch: its own host",
    ),
    (
        "docker.io",
        "Docker.io/library/nginx",
        false,
        "isDefaultRegistryMatch: \"Docker.io\" is not \"docker.io\"",
    ),
    (
        "docker.io/acme",
        "acme/app",
        true,
        "isDefaultRegistryMatch, and the path prefix",
    ),
    ("docker.io/acme", "nginx", false, "pullseal: the path prefix"),
    // Narrowed on purpose: isDefaultRegistryMatch also holds for `localhost/x` and other
    // dot-less hosts, which are not Docker Hub.
    (
        "docker.io",
        "localhost/app",
        false,
        "pullseal: only images that normalise to docker.io",
    ),
    ("localhost", "localhost/app", true, "URLsMatch"),
    (
        "MyHost",
        "MyHost/app",
        true,
        "ParseNormalizedNamed: an upper-case first component is a host",
    ),
    (
        "docker.io",
        "MyHost/app",
        false,
        "pullseal: only images that normalise to docker.io",
    ),
];

#[test]
fn servers_serve_images_as_the_kubelet_offers_credentials() {
    let mut wrong = Vec::new();
    for (server, image, serves, why) in CASES {
        let s: Server = server.parse().unwrap_or_else(|e| panic!("{server}: {e}"));
        let i: Image = image.parse().unwrap_or_else(|e| panic!("{image}: {e}"));
        if s.matches(&i) != *serves {
            wrong.push(format!("{server} / {image}: expected {serves} ({why})"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
