//! The pages' frame and the escaping of what they show.

use std::fmt::{self, Display, Write as _};

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Text escaped for HTML, in an element or in a quoted attribute.
pub(crate) struct Escaped<T>(pub T);

impl<T: Display> Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        for character in text.chars() {
            match character {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                other => f.write_char(other)?,
            }
        }
        Ok(())
    }
}

/// `text` for a URL's query: every byte but unreserved ones percent-encoded.
pub(crate) fn query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// What the dashboard may do: the router puts it in each request's extensions, and the
/// pages say it in their navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadOnly,
    Rebuilds,
}

/// The path the dashboard is mounted at (`/events` for `nest("/events", ...)`, empty at the
/// root), from the request's original URI: the pages' `<base>`, so that their links are
/// relative to it. With it, what the dashboard may do.
pub(crate) struct Mount(String, Access);

impl Mount {
    /// The absolute path of `relative`, a page of the dashboard.
    pub(crate) fn path(&self, relative: &str) -> String {
        format!("{}/{relative}", self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Mount {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let inner = parts.uri.path();
        let original = parts.extensions.get::<OriginalUri>().map_or(inner, |original| original.0.path());
        let mount = if inner == "/" {
            original.trim_end_matches('/')
        } else {
            original.strip_suffix(inner).unwrap_or_default()
        };
        let access = parts.extensions.get::<Access>().copied().unwrap_or(Access::ReadOnly);
        Ok(Self(mount.to_owned(), access))
    }
}

/// Which section of the navigation a page belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Overview,
    Streams,
    Log,
    Projections,
    Domain,
}

/// The sections, with their links relative to the mount (the overview's is the mount
/// itself: axum's `nest("/ops", ..)` answers `/ops`, not `/ops/`).
const SECTIONS: [(Section, &str, &str); 5] = [
    (Section::Overview, "", "Overview"),
    (Section::Streams, "streams", "Streams"),
    (Section::Log, "log", "Log"),
    (Section::Projections, "projections", "Projections"),
    (Section::Domain, "domain", "Domain"),
];

/// A page: its status, title, section and body.
pub(crate) struct Page {
    pub status: StatusCode,
    pub title: String,
    pub section: Option<Section>,
    pub body: String,
    /// Whether the page runs the live log's script.
    pub live: bool,
}

impl Page {
    pub(crate) fn new(section: Section, title: impl Into<String>, body: String) -> Self {
        Self { status: StatusCode::OK, title: title.into(), section: Some(section), body, live: false }
    }

    /// A page that says what went wrong, with `status`.
    pub(crate) fn error(status: StatusCode, title: &str, message: &str) -> Self {
        let body = format!("<h1>{}</h1>\n<p class=\"error\">{}</p>\n", Escaped(title), Escaped(message));
        Self { status, title: title.to_owned(), section: None, body, live: false }
    }

    pub(crate) fn render(self, mount: &Mount) -> Response {
        let mut out = String::with_capacity(self.body.len() + 1024);
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <base href=\"{}/\">\n<title>{} · eventsmith</title>\n\
             <link rel=\"stylesheet\" href=\"assets/style.css\">\n",
            Escaped(&mount.0),
            Escaped(&self.title)
        );
        if self.live {
            out.push_str("<script src=\"assets/live.js\" defer></script>\n");
        }
        out.push_str("</head>\n<body>\n<nav><span class=\"brand\">eventsmith</span>");
        for (section, href, label) in SECTIONS {
            let current = if self.section == Some(section) { " aria-current=\"page\"" } else { "" };
            let href = match href {
                "" if mount.0.is_empty() => "/".to_owned(),
                "" => Escaped(&mount.0).to_string(),
                relative => relative.to_owned(),
            };
            let _ = write!(out, "<a href=\"{href}\"{current}>{label}</a>");
        }
        let mode = match mount.1 {
            Access::ReadOnly => "read-only",
            Access::Rebuilds => "rebuilds allowed",
        };
        let _ = write!(out, "<span class=\"mode\">{mode}</span></nav>\n<main>\n");
        out.push_str(&self.body);
        out.push_str("</main>\n</body>\n</html>\n");
        html_response(self.status, out)
    }
}

/// An HTML response that may load only the dashboard's own script and style sheet.
pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
