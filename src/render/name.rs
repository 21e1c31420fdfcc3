//! Secret names: `pullseal-<registry>`, or the user's `--secret-name` handlebars template
//! with `{{registry}}`, `{{namespace}}`, `{{cluster}}` and `{{instance}}`. A name that is not a
//! valid Secret name is an error, never silently fixed.

use std::collections::BTreeMap;

use super::{Options, RenderError};
use crate::catalog::Registry;
use crate::reference::is_dns_subdomain;

/// Secret names from `--secret-name`, default `pullseal-{{registry}}`.
pub(super) struct Namer {
    registry: handlebars::Handlebars<'static>,
    template: Option<String>,
    instance: Option<String>,
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
                    message: e.to_string(),
                })?;
        }
        Ok(Namer {
            registry,
            template: options.secret_name.clone(),
            instance: options.instance.clone(),
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
            Err(format!(
                "--secret-name template {template:?} made {name:?}, which is not a valid Secret name"
            ))
        }
    }
}
