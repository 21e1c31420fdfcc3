//! Secret names: `pullseal-<registry>`, or the user's `--secret-name` handlebars template
//! with `{{registry}}`, `{{namespace}}`, `{{cluster}}` and `{{instance}}`. A name that is not a
//! valid Secret name is an error, never silently fixed: a usage error (exit 2), since the
//! template is what has to change, not the manifests.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::{Options, RenderError};
use crate::catalog::Registry;
use crate::reference::is_dns_subdomain;

/// Secret names from `--secret-name`, default `pullseal-{{registry}}`.
pub(super) struct Namer {
    registry: handlebars::Handlebars<'static>,
    template: Option<String>,
    instance: Option<String>,
    /// The first name the template made that is not a valid Secret name. The walk reports
    /// a failed name as a problem of the object it was made for; [`Namer::invalid_template`]
    /// turns it into the usage error it is.
    invalid: RefCell<Option<RenderError>>,
}

impl Namer {
    pub(super) fn new(options: &Options) -> Result<Namer, RenderError> {
        let mut registry = handlebars::Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        if let Some(template) = &options.secret_name {
            registry
                .register_template_string("name", template)
                .map_err(|e| RenderError::Template {
                    template: template.clone(),
                    message: describe(&e),
                })?;
        }
        Ok(Namer {
            registry,
            template: options.secret_name.clone(),
            instance: options.instance.clone(),
            invalid: RefCell::new(None),
        })
    }

    pub(super) fn name(
        &self,
        registry: &Registry,
        namespace: Option<&str>,
        cluster: &str,
    ) -> Result<String, String> {
        let Some(template) = &self.template else {
            return Ok(format!("pullseal-{}", registry.name));
        };
        let mut data = BTreeMap::new();
        data.insert("registry", registry.name.as_str());
        data.insert("cluster", cluster);
        if let Some(ns) = namespace {
            data.insert("namespace", ns);
        }
        if let Some(i) = &self.instance {
            data.insert("instance", i.as_str());
        }
        let name = self
            .registry
            .render("name", &data)
            .map_err(|e| format!("--secret-name template {template:?}: {}", e.reason()))?;
        if is_dns_subdomain(&name) {
            Ok(name)
        } else {
            self.invalid.borrow_mut().get_or_insert_with(|| RenderError::Template {
                template: template.clone(),
                message: format!(
                    "made {name:?} for registry {:?}, which is not a valid Secret name (a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.')",
                    registry.name.as_str()
                ),
            });
            Err(format!(
                "--secret-name template {template:?} made {name:?}, which is not a valid Secret name"
            ))
        }
    }

    /// The usage error for the first invalid name the template made, if it made one.
    pub(super) fn invalid_template(&self) -> Option<RenderError> {
        self.invalid.borrow_mut().take()
    }
}

/// Why `template` is not a handlebars template, in one line; `None` when it is one. For the
/// hosts that take the template from a settings object, so that the error names that field.
pub(crate) fn template_error(template: &str) -> Option<String> {
    handlebars::Handlebars::new()
        .register_template_string("name", template)
        .err()
        .map(|e| describe(&e))
}

/// A template error as one line: handlebars' own `Display` draws the template with a caret
/// over several lines.
fn describe(e: &handlebars::TemplateError) -> String {
    match e.pos() {
        Some((line, col)) => format!("{} (line {line} column {col})", e.reason()),
        None => e.reason().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Allow, RegistryType};
    use crate::registry::Credentials;

    fn registry() -> Registry {
        Registry {
            name: "company".parse().unwrap(),
            kind: RegistryType::Generic,
            server: "registry.example.com".parse().unwrap(),
            credentials: Credentials::Anonymous,
            allow: Allow::default(),
        }
    }

    /// Issue 5: a template whose result is not a Secret name is a usage error (exit 2), kept
    /// for the render to return; the object it was made for still gets its diagnostic.
    #[test]
    fn an_invalid_result_is_kept_as_a_usage_error() {
        let options = Options {
            secret_name: Some("Pull_{{registry}}-{{namespace}}".to_owned()),
            ..Options::new("prod")
        };
        let namer = Namer::new(&options).unwrap();
        assert!(namer.invalid_template().is_none());
        let diagnostic = namer.name(&registry(), Some("shop"), "prod").unwrap_err();
        insta::assert_snapshot!(diagnostic, @r#"--secret-name template "Pull_{{registry}}-{{namespace}}" made "Pull_company-shop", which is not a valid Secret name"#);
        // Only the first invalid name is kept.
        namer.name(&registry(), Some("other"), "prod").unwrap_err();
        let usage = crate::Error::from(namer.invalid_template().unwrap());
        assert_eq!(usage.exit_code(), 2);
        insta::assert_snapshot!(usage, @r#"
            --secret-name template "Pull_{{registry}}-{{namespace}}": made "Pull_company-shop" for registry "company", which is not a valid Secret name (a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' and '.')
            "#);
        assert!(namer.invalid_template().is_none());
        // A valid result leaves nothing behind.
        let options = Options {
            secret_name: Some("pull-{{registry}}".to_owned()),
            ..Options::new("prod")
        };
        let namer = Namer::new(&options).unwrap();
        assert_eq!(namer.name(&registry(), None, "prod").unwrap(), "pull-company");
        assert!(namer.invalid_template().is_none());
    }
}
