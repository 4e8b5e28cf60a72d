//! Server-rendered pages: the sign-in and registration forms of the authorize endpoint, and the
//! error page for requests that must not be redirected anywhere.

use askama::Template;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "credentials.html")]
pub struct CredentialsPage<'a> {
    pub title: &'a str,
    pub action: &'a str,
    pub button: &'a str,
    pub registering: bool,
    pub password_autocomplete: &'a str,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
    pub email: &'a str,
    /// The authorize request and the CSRF value, carried through the form.
    pub hidden: Vec<(&'a str, String)>,
    pub switch_text: &'a str,
    pub switch_label: &'a str,
    pub switch_link: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// Renders with headers that keep the page out of frames and caches and off other origins.
pub fn render(status: StatusCode, page: &impl Template, extra: &[(HeaderName, HeaderValue)]) -> Response {
    let body = match page.render() {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "page failed to render");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response();
        }
    };
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    for (name, value) in extra {
        headers.append(name, value.clone());
    }
    response
}

pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &MessagePage { title, message }, &[])
}
