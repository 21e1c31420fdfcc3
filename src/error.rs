//! The top-level error: one kind per way pullseal can fail, and the kind alone decides the
//! exit code (the table is in the README and in [`Error::exit_code`]).
//!
//! Messages come from the module errors underneath and never hold a credential. Text they
//! take from an input (a manifest, a file name, a key of the catalog) goes through [`shown`].

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::catalog::edit::EditError;
use crate::frontend::SettingsError;
use crate::frontend::{ArgocdError, KrmError};
use crate::render::{NO_NAMESPACE, NO_NAMESPACE_FOR_POLICY, RenderError};
use crate::seal::SealError;
use crate::sops::SopsError;

/// Everything that can stop a run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The manifests have problems (exit 1).
    #[error(transparent)]
    Input(RenderError),
    /// The command line or environment is wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The catalog cannot be found, decrypted or understood (exit 3).
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The age identities cannot be read (exit 3).
    #[error("cannot load age identities")]
    Identities(#[source] SopsError),
    /// The cluster's sealing settings cannot be used (exit 4).
    #[error(transparent)]
    Seal(RenderError),
    /// Catalog discovery found a catalog that is a symbolic link out of the repository
    /// (exit 3): discovery never leaves the repository, so it is not used.
    #[error(
        "{} is a symbolic link to {}, outside the repository {}; pass it with --catalog to use it",
        shown_path(link),
        shown_path(target),
        shown_path(root)
    )]
    CatalogOutsideRepository {
        /// The link that was found.
        link: PathBuf,
        /// Where it points.
        target: PathBuf,
        /// The repository root (the directory holding `.git`).
        root: PathBuf,
    },
    /// A settings object (a kustomize plugin config) cannot be used (exit 2).
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// `pullseal argocd generate` cannot read the app (exit 2 for settings and missing
    /// tools, 1 when the app's tool fails or gives no object).
    #[error(transparent)]
    Argocd(#[from] ArgocdError),
    /// The KRM function was not given a `ResourceList` it can work on (exit 2), or cannot add
    /// its secrets to it safely (exit 1).
    #[error(transparent)]
    Function(#[from] KrmError),
    /// `pullseal doctor` found problems that would make a render fail. It exits as the first
    /// of them would make a render exit; the report on stdout lists them all.
    #[error(
        "doctor found {count} {} that would make a render fail (the report on stdout lists {}); the first follows",
        if *count == 1 { "problem" } else { "problems" },
        if *count == 1 { "it" } else { "them" }
    )]
    Doctor {
        /// How many problems were found.
        count: usize,
        /// The first, as a render would report it.
        #[source]
        first: Box<Error>,
    },
    /// `pullseal validate` found registries that are not valid (exit 6); the report on stdout
    /// says why for each.
    #[error(
        "{} of {total} {} not valid: {}",
        failed.len(),
        if *total == 1 { "registry is" } else { "registries are" },
        failed.join(", ")
    )]
    Validate {
        /// The names of the registries that are not valid, as messages show them.
        failed: Vec<String>,
        /// How many were checked.
        total: usize,
    },
    /// `pullseal catalog` refused an edit (exit 2), cannot open or encrypt the catalog (3) or
    /// write it (5); nothing was written.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// Reading inputs or writing outputs failed (exit 5). The message names the action and
    /// the path; the I/O error itself is the source, printed once as the cause.
    #[error("cannot {action} {}", shown_path(path))]
    Io {
        /// What was being done: `read`, `write`, `create`...
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
}

/// Text from an input as a message shows it: as it is when it is a plain word (ASCII letters,
/// digits and `-_.+/=:@<>`, as names, images, keys and paths are), else as a double-quoted,
/// escaped literal: `"a\u{1b}[2J"`, `"my app"`, `""`.
///
/// A manifest or file name can hold any character: an ESC or other C0 or C1 control would move
/// the cursor or recolour the terminal, a CR or newline would start a forged line, a bidi
/// override (U+202E) would show the rest of the line reversed. Rust's `Debug` escapes every
/// control, format (bidi, zero-width) and separator character; the tests pin that.
///
/// Text longer than [`SHOWN_MAX`] bytes (no name, image or path is; a 1 MiB annotation value
/// is) is cut there and marked with how much was left out, so that one bad value cannot flood
/// the terminal or the log.
pub(crate) fn shown(text: &str) -> String {
    let (head, cut) = clipped(text);
    let plain = !head.is_empty()
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+/=:@<>".contains(&b));
    let mut out = if plain {
        head.to_owned()
    } else {
        format!("{head:?}")
    };
    out.push_str(&cut);
    out
}

/// Text from an input always quoted and escaped (`"Company"`), and clipped as [`shown`] clips.
pub(crate) fn quoted(text: &str) -> String {
    let (head, cut) = clipped(text);
    format!("{head:?}{cut}")
}

/// How many bytes of an input's text a message shows at most.
pub(crate) const SHOWN_MAX: usize = 512;

/// The first [`SHOWN_MAX`] bytes of `text` (at a character boundary), and what marks the cut.
fn clipped(text: &str) -> (&str, String) {
    if text.len() <= SHOWN_MAX {
        return (text, String::new());
    }
    let mut end = SHOWN_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text.get(..end).unwrap_or("");
    (head, format!("... ({} bytes in all)", text.len()))
}

/// A path as a message shows it: [`shown`], as a file name can hold any character.
pub(crate) fn shown_path(path: &std::path::Path) -> String {
    shown(&path.display().to_string())
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        match e {
            // Namespaces and names come from the manifests (flags are checked up front), so a
            // seal that refuses one is a problem of the input.
            RenderError::Input(_)
            | RenderError::Seal {
                source: SealError::InvalidNamespace { .. } | SealError::InvalidName { .. },
                ..
            } => Error::Input(e),
            RenderError::Template { .. } => Error::Usage(e.to_string()),
            // No pull secret can be made for the cluster: a sealing failure, exit 4.
            RenderError::Cluster { .. } | RenderError::Seal { .. } | RenderError::EcrToken { .. } => {
                Error::Seal(e)
            }
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => 1,
            Error::Usage(_) | Error::Settings(_) => 2,
            Error::Catalog(_) | Error::Identities(_) | Error::CatalogOutsideRepository { .. } => 3,
            Error::Seal(_) => 4,
            Error::Io { .. } => 5,
            Error::Validate { .. } => 6,
            Error::Argocd(e) => e.exit_code(),
            Error::Edit(e) => e.exit_code(),
            Error::Function(e) => e.exit_code(),
            Error::Doctor { first, .. } => first.exit_code(),
        }
    }

    /// What an exit code means, as the README's table says it: a Helm 4 user sees only the
    /// code (`helm --debug` logs it), so the `PULLSEAL_LOG` record ends with this.
    pub fn exit_meaning(code: u8) -> &'static str {
        match code {
            0 => "rendered",
            1 => "the manifests have problems",
            2 => "usage: bad arguments or settings",
            3 => "the catalog cannot be found, decrypted or understood",
            4 => "sealing for the cluster failed",
            5 => "an input cannot be read or the output cannot be written",
            6 => "a registry is not valid (pullseal validate)",
            _ => "unknown",
        }
    }

    /// A line that tells the user what to try next, where there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Doctor { first, .. } => first.hint(),
            Error::Catalog(CatalogError::Decrypt {
                source: SopsError::NoIdentity { .. },
                ..
            })
            | Error::Edit(EditError::Load(CatalogError::Decrypt {
                source: SopsError::NoIdentity { .. },
                ..
            }))
            | Error::Identities(_) => {
                Some("give the catalog's age identity with --age-key-file, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY")
            }
            // Helm renders namespaced objects without a namespace and sets it at install
            // time, but never tells a post-renderer which one it is.
            Error::Input(RenderError::Input(diagnostics))
                if diagnostics
                    .iter()
                    .any(|d| d.message == NO_NAMESPACE || d.message.ends_with(NO_NAMESPACE_FOR_POLICY)) =>
            {
                Some(
                    "set the namespace where the manifests are made: Helm, which does not tell a post-renderer the release namespace, needs --post-renderer-args --namespace=<release namespace>; kustomize, `namespace` in the kustomization or in the Render settings; Argo CD gives the Application's destination namespace (ARGOCD_APP_NAMESPACE)",
                )
            }
            Error::Edit(EditError::Invalid { problems, .. })
                if !problems.is_empty() && problems.iter().all(|p| p.starts_with("clusters.")) =>
            {
                Some(
                    "each field has the option of its name (catalog cluster add or set): --cert (certificate), --scope, --seal, --age-recipient (ageRecipients), --kms, --kubelet-credentials; --unset FIELD removes one",
                )
            }
            Error::Edit(EditError::Invalid { .. }) => Some(
                "each field has the option of its name: --server, --username, --email, --public, --region, --access-key-id, --role-arn, --refresh, --allow-namespace/-cluster/-project; password: --password-stdin, --password-file or --key-file (gcr); secretAccessKey: --secret-access-key-stdin or --secret-access-key-file; sessionToken: --session-token-file",
            ),
            Error::Catalog(CatalogError::NotFound { .. }) => Some(
                "discovery looks in the working directory and its parents up to the repository root (the directory holding .git); run from inside the catalog's repository, or pass --catalog",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{SHOWN_MAX, quoted, shown};

    #[test]
    fn long_text_is_clipped_and_says_how_long_it_was() {
        let long = "a".repeat(1 << 20);
        let out = shown(&long);
        assert_eq!(
            out,
            format!("{}... (1048576 bytes in all)", "a".repeat(SHOWN_MAX))
        );
        let quoted_out = quoted(&format!("{long} b"));
        assert_eq!(
            quoted_out,
            format!("\"{}\"... (1048578 bytes in all)", "a".repeat(SHOWN_MAX))
        );
        // The cut never splits a character.
        let wide = "\u{e9}".repeat(SHOWN_MAX);
        assert!(shown(&wide).starts_with(&format!("\"{}\"...", "\u{e9}".repeat(SHOWN_MAX / 2))));
        // Up to the limit nothing is cut.
        assert_eq!(shown(&"a".repeat(SHOWN_MAX)), "a".repeat(SHOWN_MAX));
        assert_eq!(quoted("Company"), "\"Company\"");
    }

    #[test]
    fn plain_words_are_shown_as_they_are() {
        for word in [
            "Deployment",
            "shop",
            "registry.pullseal.io/app",
            "ghcr.io/acme/app:1.2@sha256:0f",
            "testdata/render/errors/input.yaml",
            "<stdin>",
        ] {
            assert_eq!(shown(word), word);
        }
    }

    #[test]
    fn anything_else_is_quoted_and_escaped() {
        let cases = [
            "",
            "my app",
            "say \"hi\"",
            "back\\slash",
            "a\u{1b}[2Jb",
            "line\nforged: error",
            "cr\rover",
            "\u{202e}gnp.exe",
            "caf\u{e9}",
        ];
        let out: Vec<String> = cases.iter().map(|c| shown(c)).collect();
        insta::assert_snapshot!(out.join("\n"), @r#"
            ""
            "my app"
            "say \"hi\""
            "back\\slash"
            "a\u{1b}[2Jb"
            "line\nforged: error"
            "cr\rover"
            "\u{202e}gnp.exe"
            "café"
            "#);
    }

    /// Every character that can act on a terminal or reorder a line comes out escaped: C0, DEL
    /// and C1 controls, line and paragraph separators, and the bidi and other format
    /// characters (Rust's `Debug` escapes them all; this pins that it still does).
    #[test]
    fn no_control_format_or_bidi_character_gets_through() {
        let dangerous = (0..0x20)
            .chain(0x7f..0xa0)
            .chain([0xad, 0x061c, 0x180e, 0x2028, 0x2029, 0xfeff])
            .chain(0x200b..=0x200f)
            .chain(0x202a..=0x202e)
            .chain(0x2060..=0x2064)
            .chain(0x2066..=0x206f)
            .chain(0xfff9..=0xfffb)
            .chain([0xe0001])
            .filter_map(char::from_u32);
        for c in dangerous {
            let out = shown(&format!("a{c}b"));
            assert!(!out.contains(c), "U+{:04X} got through: {out:?}", u32::from(c));
            assert!(out.starts_with('"') && out.ends_with('"'), "{out}");
        }
    }

    /// The `PULLSEAL_LOG` record ends with these: one per row of the README's exit-code table.
    #[test]
    fn every_exit_code_has_its_meaning() {
        let meanings: Vec<String> = (0..=7)
            .map(|code| format!("{code}: {}", super::Error::exit_meaning(code)))
            .collect();
        insta::assert_snapshot!(meanings.join("\n"), @r"
        0: rendered
        1: the manifests have problems
        2: usage: bad arguments or settings
        3: the catalog cannot be found, decrypted or understood
        4: sealing for the cluster failed
        5: an input cannot be read or the output cannot be written
        6: a registry is not valid (pullseal validate)
        7: unknown
        ");
    }

    proptest::proptest! {
        /// Whatever the input, what is shown is one line of printable text.
        #[test]
        fn what_is_shown_is_never_a_control(text in proptest::prelude::any::<String>()) {
            let out = shown(&text);
            proptest::prop_assert!(!out.chars().any(char::is_control), "{:?}", out);
        }
    }
}
