//! Secrets: values that never print. In the file they are written inline, with
//! `${ENV_VAR}` references expanded when the file is loaded, or named by a `*_file`
//! path that is read each time the secret is used, so that rotating the file needs no
//! reload.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret prints as, everywhere: logs, `Debug`, the config API.
pub const REDACTED: &str = "<secret>";

/// A secret string. `Debug`, `Display` and `Serialize` all print `<secret>`; only
/// [`Secret::expose`] gives the value, and callers use it at the point of sending.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that is already known (for tests and generated secrets).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's value. Never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (not configured).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        expand_env(&text, |name| std::env::var(name).ok()).map(Secret).map_err(serde::de::Error::custom)
    }
}

/// Expands `${NAME}` references with `lookup`; `$$` stands for a literal `$`. A
/// reference to an unset variable is an error that names it, never an empty string.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end =
                body.find('}').ok_or_else(|| format!("unterminated ${{...}} reference in secret (at byte {pos})"))?;
            let name = &body[..end];
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!("invalid environment variable name {name:?} in ${{...}} reference"));
            }
            let value = lookup(name)
                .ok_or_else(|| format!("environment variable {name} is not set (referenced as ${{{name}}})"))?;
            out.push_str(&value);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A secret given inline or by a file path, as Prometheus's `password` /
/// `password_file` pairs. The file is read on every [`SecretSource::read`], so rotation
/// takes effect at the next use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// The value written in the configuration (after `${ENV}` expansion).
    Inline(Secret),
    /// A file whose contents, without a trailing newline, are the secret.
    File(PathBuf),
}

impl SecretSource {
    /// Picks the configured source from an inline value and a file path; `None` when
    /// neither is set. Configuration validation rejects both being set.
    pub fn from_pair(inline: &Option<Secret>, file: &Option<PathBuf>) -> Option<Self> {
        match (inline, file) {
            (Some(secret), _) => Some(Self::Inline(secret.clone())),
            (None, Some(path)) => Some(Self::File(path.clone())),
            (None, None) => None,
        }
    }

    /// Reads the secret now. For a file this reads it again each time.
    pub fn read(&self) -> std::io::Result<Secret> {
        match self {
            Self::Inline(secret) => Ok(secret.clone()),
            Self::File(path) => read_secret_file(path),
        }
    }
}

fn read_secret_file(path: &Path) -> std::io::Result<Secret> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("reading secret file {}: {e}", path.display())))?;
    Ok(Secret(text.trim_end_matches(['\n', '\r']).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "<secret> <secret>");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<secret>\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn expands_environment_references() {
        let lookup = |name: &str| (name == "TOKEN").then(|| "abc".to_owned());
        assert_eq!(expand_env("Bearer ${TOKEN}!", lookup), Ok("Bearer abc!".to_owned()));
        assert_eq!(expand_env("cost $$5 $x", lookup), Ok("cost $5 $x".to_owned()));
        let missing = expand_env("${NOPE}", lookup).unwrap_err();
        assert!(missing.contains("NOPE is not set"), "{missing}");
        assert!(expand_env("${TOKEN", lookup).unwrap_err().contains("unterminated"));
        assert!(expand_env("${1X}", lookup).unwrap_err().contains("invalid environment variable name"));
    }

    #[test]
    fn file_secrets_are_reread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "one\n").unwrap();
        let source = SecretSource::File(path.clone());
        assert_eq!(source.read().unwrap().expose(), "one");
        std::fs::write(&path, "two").unwrap();
        assert_eq!(source.read().unwrap().expose(), "two");
        std::fs::remove_file(&path).unwrap();
        let err = source.read().unwrap_err().to_string();
        assert!(err.contains("reading secret file"), "{err}");
    }
}
