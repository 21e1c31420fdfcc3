//! Amazon ECR with `refresh: external-secrets` (issue 7): the objects `render` emits for the
//! External Secrets Operator, checked against ESO's released CRD schemas (the project's copy in
//! `testdata/eso/`, see its README), and the AWS keys Secret unsealed with kubesealpy.
//!
//! The schema check walks every field pullseal writes in each ESO object: each must be a
//! property the schema names (or sit under `additionalProperties`), of the schema's type,
//! inside its `enum`, `pattern` and length bounds, with every `required` sibling present. Then
//! the fields that matter are checked for what they say: the generator reference, the target
//! name, template type and data, and the refresh interval.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use crate::peers::{kubesealpy_python, unseal};
use crate::support::{path, render};

const CASE: &str = "testdata/render/ecr-external-secrets/input.yaml";

fn rendered(cluster: &str, input: &str) -> String {
    let out = render(cluster).arg(input).output().unwrap();
    assert!(out.status.success(), "{}", crate::support::transcript(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Every document of `yaml` as JSON, read by PyYAML (an independent reader).
fn documents(yaml: &str) -> Vec<Value> {
    let out = std::process::Command::new(kubesealpy_python())
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(yaml.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn schema(file: &str) -> Value {
    serde_json::from_str(&fs_err::read_to_string(path(&format!("testdata/eso/{file}"))).unwrap()).unwrap()
}

/// Checks `value` at `at` against `schema`; every problem found is pushed to `problems`.
fn conform(value: &Value, schema: &Value, at: &str, problems: &mut Vec<String>) {
    let ty = schema.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("boolean") => value.is_boolean(),
        Some("integer") => value.is_i64() || value.is_u64(),
        _ => true,
    };
    if !type_ok {
        problems.push(format!("{at}: is not of type {}", ty.unwrap_or("?")));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {options:?}"));
    }
    if let Some(s) = value.as_str() {
        if let Some(p) = schema.get("pattern").and_then(Value::as_str)
            && !regex::Regex::new(p).unwrap().is_match(s)
        {
            problems.push(format!("{at}: {s:?} does not match {p}"));
        }
        let len = s.chars().count() as u64;
        if schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
            || schema
                .get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| len < m)
        {
            problems.push(format!("{at}: {s:?} is out of the length bounds"));
        }
    }
    if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            conform(item, &schema["items"], &format!("{at}[{i}]"), problems);
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !object.contains_key(key.as_str().unwrap()) {
                problems.push(format!("{at}: required field {key} is missing"));
            }
        }
        let count = object.len() as u64;
        if schema
            .get("maxProperties")
            .and_then(Value::as_u64)
            .is_some_and(|m| count > m)
            || schema
                .get("minProperties")
                .and_then(Value::as_u64)
                .is_some_and(|m| count < m)
        {
            problems.push(format!("{at}: has {count} fields, out of the schema's bounds"));
        }
        for (key, field) in object {
            let sub = format!("{at}.{key}");
            match (
                properties.and_then(|p| p.get(key)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) | (None, Some(s)) => conform(field, s, &sub, problems),
                // metadata is `type: object` without properties in a CRD: the API server's.
                (None, None) if properties.is_none() => {}
                (None, None) => problems.push(format!("{sub}: is not a field of the schema")),
            }
        }
    }
}

fn of_kind<'a>(docs: &'a [Value], kind: &str, namespace: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| d["kind"] == kind && d["metadata"]["namespace"] == namespace)
        .collect();
    assert_eq!(found.len(), 1, "{kind} in {namespace}: {found:?}");
    found[0]
}

fn named<'a>(docs: &'a [Value], kind: &str, namespace: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind && d["metadata"]["namespace"] == namespace && d["metadata"]["name"] == name
        })
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name}"))
}

/// The ESO objects use only fields ESO's CRDs define, and say what they must.
#[test]
#[allow(clippy::too_many_lines)] // one walk over each namespace's three objects reads best whole
fn eso_objects_conform_to_the_crd_schemas() {
    let out = rendered("test", CASE);
    let docs = documents(&out);
    let generator_schema = schema("ecrauthorizationtoken-v1alpha1.schema.json");
    let external_schema = schema("externalsecret-v1.schema.json");
    for (schema, kind) in [
        (&generator_schema, "ECRAuthorizationToken"),
        (&external_schema, "ExternalSecret"),
    ] {
        assert_eq!(schema["served"], true, "{kind}");
        assert_eq!(schema["kind"], kind);
    }
    for namespace in ["billing", "shop"] {
        let generator = of_kind(&docs, "ECRAuthorizationToken", namespace);
        let external = of_kind(&docs, "ExternalSecret", namespace);
        let keys = named(&docs, "SealedSecret", namespace, "pullseal-ecr-main-aws");
        let mut problems = Vec::new();
        conform(
            generator,
            &generator_schema["openAPIV3Schema"],
            "ECRAuthorizationToken",
            &mut problems,
        );
        conform(
            external,
            &external_schema["openAPIV3Schema"],
            "ExternalSecret",
            &mut problems,
        );
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // The check itself catches a misspelt field, a wrong kind and a missing required one.
        let mut wrong = external.clone();
        wrong["spec"]["refreshIntervall"] = "1h".into();
        wrong["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]["kind"] = "ECRToken".into();
        wrong["spec"]["dataFrom"][0]["sourceRef"]["generatorRef"]
            .as_object_mut()
            .unwrap()
            .remove("name");
        let mut caught = Vec::new();
        conform(
            &wrong,
            &external_schema["openAPIV3Schema"],
            "ExternalSecret",
            &mut caught,
        );
        assert_eq!(caught.len(), 3, "{caught:?}");

        // apiVersions are the schemas' group and served version.
        for (doc, schema) in [(generator, &generator_schema), (external, &external_schema)] {
            let api = format!(
                "{}/{}",
                schema["group"].as_str().unwrap(),
                schema["version"].as_str().unwrap()
            );
            assert_eq!(doc["apiVersion"], api.as_str());
        }
        // The generator reads the AWS keys Secret, by the keys that Secret holds.
        assert_eq!(generator["spec"]["region"], "eu-west-1");
        let refs = &generator["spec"]["auth"]["secretRef"];
        let sealed = keys["spec"]["encryptedData"].as_object().unwrap();
        for field in ["accessKeyIDSecretRef", "secretAccessKeySecretRef"] {
            assert_eq!(refs[field]["name"], "pullseal-ecr-main-aws");
            assert!(
                sealed.contains_key(refs[field]["key"].as_str().unwrap()),
                "{field}"
            );
        }
        assert!(
            refs.get("sessionTokenSecretRef").is_none(),
            "the test catalog has no session token"
        );
        // The ExternalSecret pulls from that generator every hour and writes the pull secret.
        let spec = &external["spec"];
        assert_eq!(spec["refreshInterval"], "1h");
        let source = &spec["dataFrom"][0]["sourceRef"]["generatorRef"];
        assert_eq!(source["apiVersion"], generator["apiVersion"]);
        assert_eq!(source["kind"], "ECRAuthorizationToken");
        assert_eq!(source["name"], generator["metadata"]["name"]);
        assert_eq!(spec["target"]["name"], "pullseal-ecr-main");
        let template = &spec["target"]["template"];
        assert_eq!(template["type"], "kubernetes.io/dockerconfigjson");
        let data = template["data"].as_object().unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), [".dockerconfigjson"]);
        // What ESO's template engine makes of it, for the generator's outputs, is the
        // dockerconfigjson the kubelet reads: `auth` is `AWS:<password>`.
        let made = fill_template(
            data[".dockerconfigjson"].as_str().unwrap(),
            "AWS",
            "eyJwYXlsb2FkIjoidG9rZW4ifQ==",
        );
        let config: Value = serde_json::from_str(&made).unwrap();
        let entry = &config["auths"]["123456789012.dkr.ecr.eu-west-1.amazonaws.com"];
        let auth = base64::engine::general_purpose::STANDARD
            .decode(entry["auth"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(auth).unwrap(),
            "AWS:eyJwYXlsb2FkIjoidG9rZW4ifQ=="
        );
        assert_eq!(entry["username"], "AWS");
        // Labelled as every pullseal object, so a re-run (KRM) knows them.
        for doc in [generator, external, keys] {
            assert_eq!(
                doc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "pullseal"
            );
            assert_eq!(doc["metadata"]["annotations"]["pullseal.io/registry"], "ecr-main");
        }
    }
    // Every pod that pulls from ECR names the ExternalSecret's target, as for any registry.
    for doc in docs.iter().filter(|d| d["kind"] == "Pod") {
        assert_eq!(
            doc["spec"]["imagePullSecrets"][0]["name"], "pullseal-ecr-main",
            "{doc}"
        );
    }
}

/// The three template actions pullseal writes, filled in as ESO's Go template engine does.
fn fill_template(template: &str, username: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let filled = template
        .replace("{{ printf \"%s:%s\" .username .password | b64enc }}", &auth)
        .replace("{{ .password }}", password)
        .replace("{{ .username }}", username);
    assert!(
        !filled.contains("{{"),
        "an action pullseal does not know: {filled}"
    );
    filled
}

/// The AWS keys Secret opens, with the controller's key, to exactly the catalog's keys, and the
/// output holds no token and no key in the clear. Rendering twice gives the same bytes.
#[test]
fn aws_keys_secret_unseals_to_exactly_the_keys() {
    let out = rendered("test", CASE);
    assert_eq!(out, rendered("test", CASE), "the output is not deterministic");
    let opened = unseal(out.as_bytes(), &path("testdata/keys/sealed-secrets-test.key"));
    let expected: BTreeMap<String, String> = [
        ("access-key-id", "AKIATESTONLY00000000"),
        ("secret-access-key", "test-ecr-secret-key"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for namespace in ["billing", "shop"] {
        assert_eq!(
            opened[&format!("{namespace}/pullseal-ecr-main-aws")],
            expected,
            "{namespace}"
        );
    }
    assert!(!out.contains("AKIATESTONLY00000000"), "{out}");
    crate::cli::assert_no_secrets(&out);
}

/// `seal: none`: the keys Secret is a plain Opaque Secret holding the base64 of the keys.
#[test]
fn seal_none_writes_the_keys_as_a_plain_secret() {
    let out = rendered("plain", CASE);
    let docs = documents(&out);
    let keys = named(&docs, "Secret", "shop", "pullseal-ecr-main-aws");
    assert_eq!(keys["type"], "Opaque");
    let decode = |k: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(keys["data"][k].as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode("access-key-id"), "AKIATESTONLY00000000");
    assert_eq!(decode("secret-access-key"), "test-ecr-secret-key");
    assert_eq!(keys["data"].as_object().unwrap().len(), 2);
}
