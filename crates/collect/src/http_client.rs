//! Client-side HTTP settings shared by scrape jobs and other outgoing connections:
//! authentication and TLS, as Prometheus's `common/config.HTTPClientConfig`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use wk_config::{Problems, Secret};

/// `basic_auth:` — a user name and a password given inline or by file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// A file holding the user name, read on use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_file: Option<PathBuf>,
    /// The password (`${ENV}` references expanded at load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password, read on use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// `authorization:` — an `Authorization` header with a type and credentials.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    /// The scheme, `Bearer` by default.
    #[serde(rename = "type")]
    pub kind: String,
    /// The credentials (`${ENV}` references expanded at load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// A file holding the credentials, read on use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<PathBuf>,
}

impl Default for Authorization {
    fn default() -> Self {
        Self { kind: "Bearer".to_owned(), credentials: None, credentials_file: None }
    }
}

/// `tls_config:` for outgoing connections.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsClientConfig {
    /// CA certificate bundle to verify the server with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Inline CA certificate bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// Client certificate file for mutual TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Inline client certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// Client key file for mutual TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Inline client key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// Server name to verify instead of the target's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip certificate verification (never in production).
    pub insecure_skip_verify: bool,
    /// Lowest TLS version accepted (`TLS12`, `TLS13`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    /// Highest TLS version offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
}

/// `oauth2:` client-credentials settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2 {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// File holding the client secret, read on use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes requested.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Token endpoint.
    pub token_url: String,
    /// Extra form parameters for the token request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings for the token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsClientConfig>,
}

/// One header of `http_headers:`: literal values, secret values and values read from files.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeaderValues {
    /// Literal values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Secret values, never printed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Files whose contents are values, read on use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
}

/// Checks one client's authentication settings for the conflicts Prometheus rejects.
pub fn validate_auth(
    at: wk_config::Location,
    basic_auth: Option<&BasicAuth>,
    authorization: Option<&Authorization>,
    oauth2: Option<&OAuth2>,
    bearer_token: bool,
    problems: &mut Problems,
) {
    let configured = [basic_auth.is_some(), authorization.is_some(), oauth2.is_some(), bearer_token];
    if configured.iter().filter(|set| **set).count() > 1 {
        problems.error(
            at,
            "at most one of basic_auth, oauth2, authorization and bearer_token/bearer_token_file must be configured",
        );
    }
    if let Some(auth) = basic_auth {
        if auth.password.is_some() && auth.password_file.is_some() {
            problems.error(at, "at most one of basic_auth password & password_file must be configured");
        }
        if !auth.username.is_empty() && auth.username_file.is_some() {
            problems.error(at, "at most one of basic_auth username & username_file must be configured");
        }
    }
    if let Some(auth) = authorization {
        if auth.credentials.is_some() && auth.credentials_file.is_some() {
            problems.error(at, "at most one of authorization credentials & credentials_file must be configured");
        }
        if auth.kind.eq_ignore_ascii_case("basic") {
            problems.error(at, "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
        }
    }
    if let Some(oauth) = oauth2 {
        if oauth.client_secret.is_some() && oauth.client_secret_file.is_some() {
            problems.error(at, "at most one of oauth2 client_secret & client_secret_file must be configured");
        }
        if oauth.token_url.is_empty() {
            problems.error(at, "oauth2 token_url must be configured");
        }
    }
}

/// The `Authorization` header a client sends, from Prometheus's auth settings
/// (`basic_auth`, `authorization`, or the legacy `bearer_token[_file]`, in that
/// order). Secrets from files are re-read for every request.
#[derive(Debug)]
pub enum Auth {
    /// `Basic base64(user:password)`.
    Basic {
        /// The user name, unless read from `username_file`.
        username: String,
        /// A file holding the user name.
        username_file: Option<PathBuf>,
        /// The password or its file.
        password: Option<wk_config::SecretSource>,
    },
    /// `KIND credentials`.
    Header {
        /// `Bearer` unless configured.
        kind: String,
        /// The credentials or their file.
        credentials: Option<wk_config::SecretSource>,
    },
}

impl Auth {
    /// The configured authentication, if any.
    pub fn from_config(
        basic_auth: Option<&BasicAuth>,
        authorization: Option<&Authorization>,
        bearer_token: &Option<Secret>,
        bearer_token_file: &Option<PathBuf>,
    ) -> Option<Auth> {
        use wk_config::SecretSource;
        if let Some(basic) = basic_auth {
            Some(Auth::Basic {
                username: basic.username.clone(),
                username_file: basic.username_file.clone(),
                password: SecretSource::from_pair(&basic.password, &basic.password_file),
            })
        } else if let Some(authz) = authorization {
            Some(Auth::Header {
                kind: authz.kind.clone(),
                credentials: SecretSource::from_pair(&authz.credentials, &authz.credentials_file),
            })
        } else {
            SecretSource::from_pair(bearer_token, bearer_token_file)
                .map(|s| Auth::Header { kind: "Bearer".to_owned(), credentials: Some(s) })
        }
    }

    /// The header value, reading secret files now. Fails naming the file that
    /// cannot be read.
    pub fn header_value(&self) -> Result<String, String> {
        let read = |s: &Option<wk_config::SecretSource>| match s {
            Some(source) => source.read().map(|v| v.expose().to_owned()).map_err(|e| e.to_string()),
            None => Ok(String::new()),
        };
        match self {
            Auth::Basic { username, username_file, password } => {
                let user = match username_file {
                    Some(path) => read(&Some(wk_config::SecretSource::File(path.clone())))?,
                    None => username.clone(),
                };
                let basic = format!("{user}:{}", read(password)?);
                Ok(format!("Basic {}", crate::scrape::fetch::base64(basic.as_bytes())))
            }
            Auth::Header { kind, credentials } => Ok(format!("{kind} {}", read(credentials)?)),
        }
    }
}
