//! The YAML parser's messages in this project's words: a duplicate key or a breached limit is
//! reported as what the user did and what the limit is, not as the library's option names.
//! Matched on the parser's typed errors, never on their text.

use std::borrow::Cow;

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{DefaultMessageFormatter, Error, MessageFormatter};

/// The limits of the parser's default budget, as documented in the README.
pub const MAX_DOCUMENTS: usize = 1024;
/// Nodes (mappings, sequences, scalars) in the whole file.
pub const MAX_NODES: usize = 250_000;
/// Nesting depth.
pub const MAX_DEPTH: usize = 64;

/// The formatter `kube-vrrp run` uses for YAML errors.
pub struct Messages;

impl MessageFormatter for Messages {
    fn format_message<'a>(&self, err: &'a Error) -> Cow<'a, str> {
        match err {
            Error::DuplicateMappingKey { key: Some(k), .. } => Cow::Owned(format!(
                "the key {k:?} appears twice in one mapping; keep one"
            )),
            Error::DuplicateMappingKey { key: None, .. } => {
                Cow::Borrowed("a key appears twice in one mapping; keep one")
            }
            Error::Budget { breach, .. } => Cow::Owned(budget(breach)),
            other => DefaultMessageFormatter.format_message(other),
        }
    }
}

fn budget(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Documents { .. } => format!(
            "more than {MAX_DOCUMENTS} YAML documents; a file holds at most {MAX_DOCUMENTS} (VirtualIPs and Secrets together)"
        ),
        BudgetBreach::Nodes { .. } => format!(
            "more than {MAX_NODES} YAML nodes (mappings, lists and values together); the file is far too large, or an alias bomb"
        ),
        BudgetBreach::Depth { .. } => {
            format!("nested more than {MAX_DEPTH} levels deep")
        }
        BudgetBreach::Aliases { .. }
        | BudgetBreach::Anchors { .. }
        | BudgetBreach::AliasAnchorRatio { .. } => {
            "too many YAML aliases or anchors (an alias bomb?)".to_string()
        }
        BudgetBreach::ScalarBytes { .. } => "more than 64 MiB of values".to_string(),
        other => format!("a YAML size limit was exceeded ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::Path;

    #[test]
    fn duplicate_keys_and_limits_speak_plainly() {
        let e = parse(Path::new("v.yaml"), "a: 1\na: 2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("the key \"a\" appears twice"), "{e}");
        assert!(!e.contains("DuplicateKeyPolicy"), "{e}");
        let many = "---\na: 1\n".repeat(MAX_DOCUMENTS + 1);
        let e = parse(Path::new("v.yaml"), &many).unwrap_err().to_string();
        assert!(e.contains("at most 1024"), "{e}");
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let e = parse(Path::new("v.yaml"), &deep).unwrap_err().to_string();
        assert!(e.contains("invalid YAML"), "{e}");
    }
}
