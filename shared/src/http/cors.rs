//! The contract's CORS rule as plain code, so the local API answers browsers of other origins as
//! API Gateway's `CorsConfiguration` does on AWS (where the template sets it from the same list).
//!
//! The rule: the origins in `CORS_ALLOWED_ORIGINS` (comma-separated, none by default) get a
//! preflight answer naming the allowed methods and the `Authorization` and `Content-Type`
//! headers, and `Access-Control-Allow-Origin` on every other answer (errors too); any other
//! origin, or a request without `Origin` (the admin console, curl, the functions' own callers),
//! gets no CORS headers at all.
//!
//! Origins are matched exactly, as `scheme://host[:port]`: scheme and host without regard to case,
//! the port as given (a default port, `:80` for http and `:443` for https, is the same as none,
//! as a browser never sends it). There is no wildcard: `*`, or anything that is not an origin (a
//! path, a trailing `/`, `null`), is refused when the list is read, so a mistyped list stops the
//! local API at start-up instead of quietly opening or closing it.

use thiserror::Error;

/// The variable the allowed origins come from.
pub const ALLOWED_ORIGINS_VAR: &str = "CORS_ALLOWED_ORIGINS";
/// `Access-Control-Allow-Methods` of a preflight answer: every method the HTTP API takes.
pub const ALLOW_METHODS: &str = "GET, POST, OPTIONS";
/// `Access-Control-Allow-Headers` of a preflight answer: the headers a caller sends.
pub const ALLOW_HEADERS: &str = "authorization, content-type";
/// `Access-Control-Max-Age` of a preflight answer, in seconds.
pub const MAX_AGE_SECS: u32 = 600;
/// The status of a preflight the API answers itself.
pub const PREFLIGHT_STATUS: u16 = 204;

/// An entry of the list that is not an origin.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{entry}` is not an allowed origin: {reason}")]
pub struct InvalidOrigin {
    pub entry: String,
    pub reason: &'static str,
}

/// The origins allowed to call the HTTP API from a browser; empty (the default) allows none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    /// Each allowed origin, normalized (see [`normalize`]).
    origins: Vec<String>,
}

/// What a request asks of CORS: its method and the headers a browser sets.
#[derive(Debug, Clone, Copy, Default)]
pub struct CorsRequest<'a> {
    pub method: &'a str,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Access-Control-Request-Method`: with `OPTIONS` and `Origin`, it makes a preflight.
    pub request_method: Option<&'a str>,
}

/// How to answer a request, CORS-wise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsAnswer {
    /// A preflight: answer it now with [`PREFLIGHT_STATUS`], an empty body and these headers,
    /// without calling the API.
    Preflight(Vec<(&'static str, String)>),
    /// Let the API answer, and add these headers (often none) to its answer, whatever its status.
    Forward(Vec<(&'static str, String)>),
}

impl CorsPolicy {
    /// Allows no origin: no request gets CORS headers.
    pub fn none() -> CorsPolicy {
        CorsPolicy::default()
    }

    /// The origins in `CORS_ALLOWED_ORIGINS`; unset or empty allows none.
    pub fn from_env() -> Result<CorsPolicy, InvalidOrigin> {
        match std::env::var(ALLOWED_ORIGINS_VAR) {
            Ok(list) => CorsPolicy::from_list(&list),
            Err(std::env::VarError::NotPresent) => Ok(CorsPolicy::none()),
            Err(std::env::VarError::NotUnicode(_)) => Err(InvalidOrigin {
                entry: ALLOWED_ORIGINS_VAR.to_owned(),
                reason: "the variable is not UTF-8",
            }),
        }
    }

    /// The origins of a comma-separated list: entries trimmed, empty entries ignored, duplicates
    /// kept once; `*` or an entry that is not `scheme://host[:port]` is an error.
    pub fn from_list(list: &str) -> Result<CorsPolicy, InvalidOrigin> {
        let mut origins: Vec<String> = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let invalid = |reason| InvalidOrigin {
                entry: entry.to_owned(),
                reason,
            };
            if entry == "*" {
                return Err(invalid("a wildcard is not supported: list each origin"));
            }
            let origin = normalize(entry)
                .ok_or_else(|| invalid("an origin is scheme://host[:port], with no path, query or trailing `/`"))?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(CorsPolicy { origins })
    }

    /// Whether no origin is allowed.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// Whether `origin`, as a browser sends it in `Origin`, is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        normalize(origin).is_some_and(|origin| self.origins.contains(&origin))
    }

    /// How to answer `request`:
    ///
    /// - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
    ///   allowed origin: 204 with `Access-Control-Allow-Origin` (the origin as sent),
    ///   `-Allow-Methods`, `-Allow-Headers`, `-Max-Age` and `Vary: Origin`. The answer is the
    ///   same whatever method and headers the preflight asks for: the browser compares them with
    ///   the lists, as it does with API Gateway's answer;
    /// - a preflight from another origin, while some origin is allowed: 204 with no headers, as
    ///   API Gateway answers every preflight itself once CORS is configured, naming nothing to an
    ///   origin it does not allow (the browser then refuses the call);
    /// - with no origin allowed, a preflight is an ordinary `OPTIONS` request: the API answers
    ///   it as it does without CORS (a 404 in the envelope, as no route takes `OPTIONS`);
    /// - any other request from an allowed origin: the API's answer, whatever its status, with
    ///   `Access-Control-Allow-Origin` and `Vary: Origin`;
    /// - anything else (another origin, no `Origin`, an `Origin` that is not UTF-8): the API's
    ///   answer with no CORS headers.
    pub fn answer(&self, request: &CorsRequest<'_>) -> CorsAnswer {
        let allowed = request.origin.filter(|origin| self.allows(origin));
        let preflight = request.method == "OPTIONS" && request.origin.is_some() && request.request_method.is_some();
        match (preflight && !self.is_empty(), allowed) {
            (true, Some(origin)) => CorsAnswer::Preflight(vec![
                ("access-control-allow-origin", origin.to_owned()),
                ("access-control-allow-methods", ALLOW_METHODS.to_owned()),
                ("access-control-allow-headers", ALLOW_HEADERS.to_owned()),
                ("access-control-max-age", MAX_AGE_SECS.to_string()),
                ("vary", "Origin".to_owned()),
            ]),
            (true, None) => CorsAnswer::Preflight(Vec::new()),
            (false, Some(origin)) => CorsAnswer::Forward(vec![
                ("access-control-allow-origin", origin.to_owned()),
                ("vary", "Origin".to_owned()),
            ]),
            (false, None) => CorsAnswer::Forward(Vec::new()),
        }
    }
}

/// `scheme://host[:port]` with scheme and host in lower case and a default port dropped; `None`
/// for anything else (a path, a query, user info, an empty host, a port that is not a number,
/// `null`).
fn normalize(origin: &str) -> Option<String> {
    let (scheme, authority) = origin.split_once("://")?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || authority.is_empty() || authority.contains(['/', '?', '#', '@', '\\', ' ']) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    // An IPv6 host is bracketed and holds colons; the port follows the bracket.
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            rest => (host, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => Some(port.parse::<u16>().ok()?),
        Some(_) => return None,
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    let host = host.to_ascii_lowercase();
    Some(match port.filter(|port| Some(*port) != default_port) {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "https://app.example.com";
    const DEV: &str = "http://localhost:5173";

    fn policy() -> CorsPolicy {
        CorsPolicy::from_list(&format!(" {APP} ,, {DEV},")).unwrap()
    }

    fn request<'a>(method: &'a str, origin: Option<&'a str>, request_method: Option<&'a str>) -> CorsRequest<'a> {
        CorsRequest {
            method,
            origin,
            request_method,
        }
    }

    #[test]
    fn the_list_is_trimmed_and_empty_entries_are_ignored() {
        assert_eq!(policy().origins, vec![APP.to_owned(), DEV.to_owned()]);
        assert!(CorsPolicy::from_list("").unwrap().is_empty());
        assert!(CorsPolicy::from_list(" , ,").unwrap().is_empty());
        assert_eq!(
            CorsPolicy::from_list(&format!("{APP},{APP}")).unwrap().origins,
            vec![APP]
        );
        assert_eq!(CorsPolicy::none(), CorsPolicy::default());
    }

    #[test]
    fn a_wildcard_or_what_is_not_an_origin_is_refused() {
        for entry in [
            "*",
            "null",
            "app.example.com",
            "https://",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "https://user@app.example.com",
            "https://app.example.com:",
            "https://app.example.com:99999",
            "https://app.example.com:8o",
            "://app.example.com",
            "1http://app.example.com",
            "http://[::1",
            "http://[::1]x",
        ] {
            let error = CorsPolicy::from_list(&format!("{APP}, {entry}")).unwrap_err();
            assert_eq!(error.entry, entry, "{entry}");
            assert!(error.to_string().contains(entry));
        }
        assert!(CorsPolicy::from_list("*")
            .unwrap_err()
            .to_string()
            .contains("a wildcard is not supported"));
    }

    #[test]
    fn origins_match_exactly_but_for_the_case_of_scheme_and_host_and_default_ports() {
        let policy =
            CorsPolicy::from_list("HTTPS://App.Example.COM, http://localhost:5173, http://[::1]:8080").unwrap();
        for allowed in [
            APP,
            "https://app.example.com:443",
            "https://APP.example.com",
            "http://localhost:5173",
            "http://[::1]:8080",
        ] {
            assert!(policy.allows(allowed), "{allowed}");
        }
        for refused in [
            "http://app.example.com",
            "https://app.example.com:8443",
            "https://evil.app.example.com",
            "https://app.example.com.evil.test",
            "https://app.example.co",
            "http://localhost",
            "http://localhost:5174",
            "http://127.0.0.1:5173",
            "http://[::1]",
            "https://app.example.com/",
            "null",
            "",
        ] {
            assert!(!policy.allows(refused), "{refused}");
        }
        assert!(CorsPolicy::from_list("https://a.example:443")
            .unwrap()
            .allows("https://a.example"));
        assert!(CorsPolicy::from_list("http://a.example:80")
            .unwrap()
            .allows("http://a.example"));
        assert!(!CorsPolicy::from_list("http://a.example:443")
            .unwrap()
            .allows("http://a.example"));
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_is_answered_with_the_four_headers() {
        let answer = policy().answer(&request("OPTIONS", Some(DEV), Some("POST")));
        assert_eq!(
            answer,
            CorsAnswer::Preflight(vec![
                ("access-control-allow-origin", DEV.to_owned()),
                ("access-control-allow-methods", "GET, POST, OPTIONS".to_owned()),
                ("access-control-allow-headers", "authorization, content-type".to_owned()),
                ("access-control-max-age", "600".to_owned()),
                ("vary", "Origin".to_owned()),
            ])
        );
        // The origin is echoed as the browser sent it.
        let CorsAnswer::Preflight(headers) =
            policy().answer(&request("OPTIONS", Some("https://APP.example.com"), Some("GET")))
        else {
            panic!("a preflight");
        };
        assert_eq!(
            headers[0],
            ("access-control-allow-origin", "https://APP.example.com".to_owned())
        );
    }

    #[test]
    fn a_preflight_from_another_origin_is_a_204_with_no_headers() {
        for origin in ["https://evil.example", "null"] {
            assert_eq!(
                policy().answer(&request("OPTIONS", Some(origin), Some("GET"))),
                CorsAnswer::Preflight(Vec::new())
            );
        }
    }

    #[test]
    fn with_no_origin_allowed_a_preflight_goes_to_the_api() {
        for policy in [CorsPolicy::none(), CorsPolicy::from_list(" ").unwrap()] {
            assert_eq!(
                policy.answer(&request("OPTIONS", Some(APP), Some("GET"))),
                CorsAnswer::Forward(Vec::new())
            );
            assert_eq!(
                policy.answer(&request("GET", Some(APP), None)),
                CorsAnswer::Forward(Vec::new())
            );
        }
    }

    #[test]
    fn other_requests_from_an_allowed_origin_get_the_origin_back() {
        let expected = CorsAnswer::Forward(vec![
            ("access-control-allow-origin", APP.to_owned()),
            ("vary", "Origin".to_owned()),
        ]);
        for (method, request_method) in [
            ("GET", None),
            ("POST", None),
            ("DELETE", None),
            // Not a preflight without Access-Control-Request-Method, nor with another method.
            ("OPTIONS", None),
            ("GET", Some("POST")),
        ] {
            assert_eq!(
                policy().answer(&request(method, Some(APP), request_method)),
                expected,
                "{method}"
            );
        }
    }

    #[test]
    fn other_origins_and_requests_without_origin_get_nothing() {
        for (method, origin, request_method) in [
            ("GET", None, None),
            ("POST", None, None),
            ("OPTIONS", None, Some("GET")),
            ("GET", Some("https://evil.example"), None),
            ("POST", Some("http://localhost:5174"), None),
            ("OPTIONS", Some("https://evil.example"), None),
        ] {
            assert_eq!(
                policy().answer(&request(method, origin, request_method)),
                CorsAnswer::Forward(Vec::new()),
                "{method} {origin:?}"
            );
        }
    }
}
