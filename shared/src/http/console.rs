//! The admin console: one static page (`console/` at the repository's root) built into every
//! binary that serves it, the local API at `/` and the `online-console` function on AWS, so the
//! page and the API it calls share one origin and need no CORS. What is served, with which
//! headers, is decided here once for both.
//!
//! - `GET /`: the page; `GET /console/app.js`, `/console/app.css`: its script and style;
//!   `GET /console/config.json`: where the page finds the WebSocket API (`websocketUrl`, null
//!   when it is `/ws` on the page's own host, as on the local API).
//! - Every answer carries a strict Content-Security-Policy (scripts and styles from this origin
//!   only, no inline code, no framing, connections to this origin and WebSockets only),
//!   `nosniff`, `no-referrer`, and `Cache-Control: no-cache` with an `ETag`, so a browser
//!   revalidates (a 304 costs no body) and a deploy is seen at the next load.

use std::borrow::Cow;
use std::sync::OnceLock;

use lambda_http::http::header::{HeaderName, HeaderValue};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use sha2::{Digest, Sha256};

/// Where the page's own files live, under the page at `/`.
pub const ASSET_PREFIX: &str = "/console/";

/// The environment variable that tells the deployed page where the WebSocket API is
/// (`wss://{api}.execute-api.{region}.amazonaws.com/{stage}`); unset, the page uses `/ws` on its
/// own host.
pub const WEBSOCKET_URL_VARIABLE: &str = "WEBSOCKET_URL";

/// The policy every console answer carries: nothing inline, nothing from elsewhere (avatars are
/// not loaded: a third-party image would tell its host who looks at the console).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One of the page's built-in files, and its tag, computed at its first request and kept for the
/// process's life (the files cannot change under a running binary).
struct BuiltIn {
    content_type: &'static str,
    text: &'static str,
    etag: OnceLock<String>,
}

impl BuiltIn {
    const fn new(content_type: &'static str, text: &'static str) -> Self {
        BuiltIn {
            content_type,
            text,
            etag: OnceLock::new(),
        }
    }

    fn etag(&self) -> &str {
        self.etag.get_or_init(|| etag_of(self.text))
    }
}

static INDEX_HTML: BuiltIn = BuiltIn::new("text/html; charset=utf-8", include_str!("../../../console/index.html"));
static APP_JS: BuiltIn = BuiltIn::new(
    "text/javascript; charset=utf-8",
    include_str!("../../../console/app.js"),
);
static APP_CSS: BuiltIn = BuiltIn::new("text/css; charset=utf-8", include_str!("../../../console/app.css"));

/// A strong tag for `body`: the start of its SHA-256.
fn etag_of(body: &str) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(body.as_bytes()))[..20])
}

/// How the console is served where it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The WebSocket API's URL, when it is not `/ws` on the page's host.
    pub websocket_url: Option<String>,
}

impl ConsoleSettings {
    /// From [`WEBSOCKET_URL_VARIABLE`] (empty counts as unset).
    pub fn from_env() -> Self {
        let websocket_url = std::env::var(WEBSOCKET_URL_VARIABLE)
            .ok()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        ConsoleSettings { websocket_url }
    }

    /// `config.json`: what the page reads at start.
    fn config_json(&self) -> String {
        serde_json::json!({ "websocketUrl": self.websocket_url }).to_string()
    }
}

/// One answer of the console: status 200 with a body, or 304 (the browser's copy is current).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleAnswer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Empty in a 304.
    pub body: Cow<'static, str>,
}

impl ConsoleAnswer {
    /// The answer as an HTTP response, as both the `online-console` function and the local API
    /// send it.
    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(match self.body {
            body if body.is_empty() => Body::Empty,
            body => Body::Text(body.into_owned()),
        });
        *response.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// The console's answer to `GET path`, or `None` when `path` is not one of its files (the caller
/// answers its usual 404). `if_none_match` is the request's `If-None-Match` header.
pub fn answer(path: &str, if_none_match: Option<&str>, settings: &ConsoleSettings) -> Option<ConsoleAnswer> {
    let built_in = |file: &'static BuiltIn| (file.content_type, Cow::Borrowed(file.text), file.etag().to_owned());
    let (content_type, body, etag) = match path {
        "/" | "/index.html" => built_in(&INDEX_HTML),
        _ => match path.strip_prefix(ASSET_PREFIX)? {
            "app.js" => built_in(&APP_JS),
            "app.css" => built_in(&APP_CSS),
            "config.json" => {
                let config = settings.config_json();
                let etag = etag_of(&config);
                ("application/json", Cow::Owned(config), etag)
            }
            _ => return None,
        },
    };
    let mut headers = vec![
        ("cache-control", "no-cache".to_owned()),
        ("etag", etag.clone()),
        ("content-security-policy", CONTENT_SECURITY_POLICY.to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
    ];
    if matches_etag(if_none_match, &etag) {
        return Some(ConsoleAnswer {
            status: 304,
            headers,
            body: Cow::Borrowed(""),
        });
    }
    headers.push(("content-type", content_type.to_owned()));
    Some(ConsoleAnswer {
        status: 200,
        headers,
        body,
    })
}

/// Whether an `If-None-Match` header names `etag` (a list, weak tags and `*` included).
fn matches_etag(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|header| {
        header
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(answer: &'a ConsoleAnswer, name: &str) -> Option<&'a str> {
        answer.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_page_its_files_and_its_config_are_served_with_their_types() {
        let settings = ConsoleSettings::default();
        for (path, content_type) in [
            ("/", "text/html; charset=utf-8"),
            ("/console/app.js", "text/javascript; charset=utf-8"),
            ("/console/app.css", "text/css; charset=utf-8"),
            ("/console/config.json", "application/json"),
        ] {
            let answer = answer(path, None, &settings).unwrap_or_else(|| panic!("{path} is served"));
            assert_eq!(answer.status, 200, "{path}");
            assert_eq!(header(&answer, "content-type"), Some(content_type), "{path}");
            assert_eq!(
                header(&answer, "content-security-policy"),
                Some(CONTENT_SECURITY_POLICY)
            );
            assert_eq!(header(&answer, "x-content-type-options"), Some("nosniff"));
            assert!(!answer.body.is_empty(), "{path}");
        }
        for path in [
            "/console/",
            "/console/../Cargo.toml",
            "/console/secret.json",
            "/app.js",
            "/favicon.ico",
        ] {
            assert_eq!(answer(path, None, &settings), None, "{path}");
        }
    }

    #[test]
    fn config_names_the_websocket_api_or_null() {
        let local = answer("/console/config.json", None, &ConsoleSettings::default()).unwrap();
        assert_eq!(local.body, r#"{"websocketUrl":null}"#);
        let deployed = ConsoleSettings {
            websocket_url: Some("wss://abc.execute-api.eu-west-1.amazonaws.com/prod".into()),
        };
        let answer = answer("/console/config.json", None, &deployed).unwrap();
        let config: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            config["websocketUrl"],
            "wss://abc.execute-api.eu-west-1.amazonaws.com/prod"
        );
    }

    #[test]
    fn a_current_copy_is_answered_304_without_a_body() {
        let settings = ConsoleSettings::default();
        let first = answer("/console/app.js", None, &settings).unwrap();
        let etag = header(&first, "etag").unwrap().to_owned();
        for if_none_match in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".into(),
        ] {
            let again = answer("/console/app.js", Some(&if_none_match), &settings).unwrap();
            assert_eq!((again.status, &*again.body), (304, ""), "{if_none_match}");
            assert_eq!(header(&again, "etag"), Some(etag.as_str()));
        }
        let stale = answer("/console/app.js", Some("\"other\""), &settings).unwrap();
        assert_eq!(stale.status, 200);
        // The page and the script differ, so do their tags.
        let page = answer("/", None, &settings).unwrap();
        assert_ne!(header(&page, "etag"), Some(etag.as_str()));
    }
}
