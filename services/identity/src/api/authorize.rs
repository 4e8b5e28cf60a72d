//! The authorization endpoint (authorization code flow with PKCE) and its two forms: sign in,
//! and register. Every POST re-checks the whole authorize request: hidden fields are input too.
//!
//! A request whose client or redirect URI is wrong gets an error page and is never redirected
//! (no open redirects); any other error goes back to the client's registered redirect URI.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use flotilla_chassis::http::cookie;
use flotilla_chassis::secrets;
use time::OffsetDateTime;
use url::Url;
use utoipa_axum::router::OpenApiRouter;

use super::AppState;
use super::pages::{self, CredentialsPage};
use crate::domain::{clients, credentials, pkce, throttle};
use crate::settings::GrantType;
use crate::store::{self, CodeGrant, StoreError, User};
use crate::throttle::Attempt;

const CSRF_COOKIE: &str = "flotilla_identity_csrf";
const CSRF_FIELD: &str = "csrf";
const MAX_PARAM_CHARS: usize = 512;
/// The authorize request's parameters, carried through the forms as hidden fields.
const CARRIED: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/oauth2/authorize", get(show_sign_in).post(sign_in))
        .route("/oauth2/register", get(show_register).post(register))
}

/// A checked authorize request.
struct Authorization {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
}

enum Refusal {
    /// Shown here: the client or redirect URI cannot be trusted with a redirect.
    Page(&'static str),
    /// Sent back to the client (RFC 6749 §4.1.2.1).
    Redirect(Url),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Page(why) => pages::message(StatusCode::BAD_REQUEST, "This sign-in request is not valid", why),
            Self::Redirect(url) => Redirect::to(url.as_str()).into_response(),
        }
    }
}

/// `a=1&b=2` as a map; a parameter given twice is refused (RFC 6749 §3.1).
pub(super) fn pairs(encoded: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(encoded) {
        if map.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(format!("the parameter {name} is given more than once"));
        }
    }
    Ok(map)
}

fn check(state: &AppState, params: &HashMap<String, String>) -> Result<Authorization, Refusal> {
    let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if params.values().any(|v| v.chars().count() > MAX_PARAM_CHARS) {
        return Err(Refusal::Page("A parameter of this request is too long."));
    }
    let client_id = get("client_id").ok_or(Refusal::Page("The request names no client."))?;
    let client = state.settings.clients.get(client_id).ok_or(Refusal::Page("The request names an unknown client."))?;
    let redirect_uri = get("redirect_uri").ok_or(Refusal::Page("The request has no redirect_uri."))?;
    if !clients::redirect_registered(&client.redirect_uris, redirect_uri) {
        return Err(Refusal::Page("The redirect_uri is not registered for this client."));
    }
    let refuse = |error: &str, description: &str| {
        let mut url =
            Url::parse(redirect_uri).map_err(|_| Refusal::Page("The registered redirect_uri is not a URL."))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("error", error).append_pair("error_description", description);
            if let Some(state_param) = get("state") {
                query.append_pair("state", state_param);
            }
            query.append_pair("iss", state.issuer());
        }
        Err(Refusal::Redirect(url))
    };
    if get("response_type") != Some("code") {
        return refuse("unsupported_response_type", "only response_type=code is supported");
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return refuse("unauthorized_client", "this client may not use the authorization code flow");
    }
    if get("code_challenge_method") != Some("S256") || !get("code_challenge").is_some_and(pkce::valid_challenge) {
        return refuse("invalid_request", "PKCE is required: a code_challenge with code_challenge_method=S256");
    }
    let scope = match clients::granted_scopes(get("scope").unwrap_or_default(), &client.scopes) {
        Ok(granted) => granted.into_iter().collect::<Vec<_>>().join(" "),
        Err(scope) => return refuse("invalid_scope", &format!("the scope {scope} is not allowed for this client")),
    };
    if get("prompt").is_some_and(|p| p.split_whitespace().any(|p| p == "none")) {
        return refuse("login_required", "the user must sign in");
    }
    Ok(Authorization {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: get("state").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: get("code_challenge").unwrap_or_default().to_owned(),
    })
}

/// Which form a page shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    SignIn,
    Register,
}

/// A line above the form: what went wrong, or what just went right.
#[derive(Clone, Copy)]
enum Note<'a> {
    Error(&'a str),
    Notice(&'a str),
}

struct Shown<'a> {
    form: Form,
    params: &'a HashMap<String, String>,
    csrf: &'a str,
    email: &'a str,
    note: Option<Note<'a>>,
}

fn show(status: StatusCode, shown: Shown<'_>, extra: &[(header::HeaderName, HeaderValue)]) -> Response {
    let mut carried = url::form_urlencoded::Serializer::new(String::new());
    let mut hidden = vec![(CSRF_FIELD, shown.csrf.to_owned())];
    for name in CARRIED {
        if let Some(value) = shown.params.get(name) {
            carried.append_pair(name, value);
            hidden.push((name, value.clone()));
        }
    }
    let carried = carried.finish();
    let (title, action, button, switch_text, switch_label, switch_link) = match shown.form {
        Form::SignIn => (
            "Sign in to Flotilla",
            "/oauth2/authorize",
            "Sign in",
            "New here?",
            "Create an account",
            format!("/oauth2/register?{carried}"),
        ),
        Form::Register => (
            "Create your Flotilla account",
            "/oauth2/register",
            "Create account",
            "Have an account?",
            "Sign in",
            format!("/oauth2/authorize?{carried}"),
        ),
    };
    let (error, notice) = match shown.note {
        Some(Note::Error(error)) => (Some(error), None),
        Some(Note::Notice(notice)) => (None, Some(notice)),
        None => (None, None),
    };
    let page = CredentialsPage {
        title,
        action,
        button,
        registering: shown.form == Form::Register,
        password_autocomplete: if shown.form == Form::Register { "new-password" } else { "current-password" },
        error,
        notice,
        email: shown.email,
        hidden,
        switch_text,
        switch_label,
        switch_link,
    };
    pages::render(status, &page, extra)
}

/// A fresh CSRF value and the cookie that holds it; the form must send the same value back.
fn csrf_cookie(state: &AppState) -> Option<(String, (header::HeaderName, HeaderValue))> {
    let value = secrets::generate().ok()?;
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{CSRF_COOKIE}={value}; Path=/oauth2; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
    let cookie = HeaderValue::from_str(&cookie).ok()?;
    Some((value, (header::SET_COOKIE, cookie)))
}

fn internal(what: &str) -> Response {
    tracing::error!(what, "authorize endpoint failed");
    pages::message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Please try again in a moment.")
}

async fn show_sign_in(State(state): State<AppState>, uri: Uri) -> Response {
    show_form(&state, &uri, Form::SignIn)
}

async fn show_register(State(state): State<AppState>, uri: Uri) -> Response {
    show_form(&state, &uri, Form::Register)
}

fn show_form(state: &AppState, uri: &Uri, form: Form) -> Response {
    let params = match pairs(uri.query().unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(why) => return pages::message(StatusCode::BAD_REQUEST, "This sign-in request is not valid", &why),
    };
    if let Err(refusal) = check(state, &params) {
        return refusal.into_response();
    }
    match csrf_cookie(state) {
        Some((csrf, cookie)) => {
            show(StatusCode::OK, Shown { form, params: &params, csrf: &csrf, email: "", note: None }, &[cookie])
        }
        None => internal("no CSRF value could be made"),
    }
}

/// The CSRF value of the cookie, if the form sent the same one.
fn csrf_matches(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<String> {
    let sent = form.get(CSRF_FIELD)?;
    let cookie = cookie(headers, CSRF_COOKIE)?;
    secrets::same(sent, cookie).then(|| cookie.to_owned())
}

/// A POSTed sign-in or registration form, accepted: parsed, CSRF-checked, its authorize request
/// checked again, and within the client address's attempt limit.
struct Submission {
    form: HashMap<String, String>,
    authorization: Authorization,
    csrf: String,
    client: IpAddr,
}

impl FromRequest<AppState> for Submission {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let ConnectInfo(peer) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| internal("no peer address on the request"))?;
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        accept_post(state, peer, &headers, &body).await
    }
}

impl Submission {
    fn field(&self, name: &str) -> &str {
        self.form.get(name).map(String::as_str).unwrap_or_default()
    }

    /// A form again, with what the person typed (never the password) and a note.
    fn again(
        &self,
        form: Form,
        status: StatusCode,
        note: Note<'_>,
        extra: &[(header::HeaderName, HeaderValue)],
    ) -> Response {
        let shown = Shown { form, params: &self.form, csrf: &self.csrf, email: self.field("email"), note: Some(note) };
        show(status, shown, extra)
    }
}

fn retry_after(seconds: u64) -> (header::HeaderName, HeaderValue) {
    (header::RETRY_AFTER, HeaderValue::from(seconds))
}

async fn accept_post(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Submission, Response> {
    let form = pairs(body).map_err(|why| pages::message(StatusCode::BAD_REQUEST, "This form is not valid", &why))?;
    let csrf = csrf_matches(headers, &form).ok_or_else(|| {
        pages::message(
            StatusCode::BAD_REQUEST,
            "This form has expired",
            "The form could not be verified (cookies may be blocked, or it was opened too long ago).",
        )
    })?;
    let authorization = check(state, &form).map_err(IntoResponse::into_response)?;
    let client = state.client(peer, headers);
    state.take_attempt(client).map_err(|seconds| {
        let mut response = pages::message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "There have been too many attempts from your address. Wait a minute and try again.",
        );
        response.headers_mut().extend([retry_after(seconds)]);
        response
    })?;
    Ok(Submission { form, authorization, csrf, client })
}

/// The one answer to a wrong password, an unknown email and a malformed one alike.
const WRONG: &str = "The email or password is wrong.";

/// Sign-in answers alike whether the email has an account, the password is wrong, or the
/// attempt is throttled (the throttle counts the email as typed), and costs one argon2
/// verification whether or not the account exists: neither the page nor the time it takes tells
/// a stranger which emails have accounts.
async fn sign_in(State(state): State<AppState>, submitted: Submission) -> Response {
    let now = OffsetDateTime::now_utc();
    let attempt = Attempt::new(submitted.field("email"), submitted.client);
    match state.limits.throttle.wait(&attempt, now).await {
        Ok(None) => {}
        Ok(Some(wait)) => {
            tracing::warn!(client_ip = %submitted.client, "sign-in throttled after failed attempts");
            let seconds = throttle::retry_after_seconds(wait);
            let message = format!("Too many failed attempts. Try again in {}.", in_words(seconds));
            return submitted.again(
                Form::SignIn,
                StatusCode::TOO_MANY_REQUESTS,
                Note::Error(&message),
                &[retry_after(seconds)],
            );
        }
        Err(error) => return internal(&error.to_string()),
    }
    let user = match credentials::email(submitted.field("email")) {
        Ok(normalised) => match store::user_by_email(state.db.pool(), &normalised).await {
            Ok(user) => user,
            Err(error) => return internal(&error.to_string()),
        },
        Err(_) => None,
    };
    let password = submitted.field("password").to_owned();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let verified =
        tokio::task::spawn_blocking(move || credentials::check(&password, stored.as_deref())).await.unwrap_or(false);
    let user = match (user, verified) {
        (Some(user), true) => user,
        (user, _) => {
            if let Err(error) = state.limits.throttle.failed(&attempt, now).await {
                return internal(&error.to_string());
            }
            let user_id = user.as_ref().map(|u| u.id.as_str());
            tracing::info!(client_ip = %submitted.client, user_id, "sign-in failed");
            return submitted.again(Form::SignIn, StatusCode::UNAUTHORIZED, Note::Error(WRONG), &[]);
        }
    };
    if let Err(error) = state.limits.throttle.succeeded(&attempt).await {
        return internal(&error.to_string());
    }
    tracing::info!(user_id = %user.id, client_id = %submitted.authorization.client_id, "signed in");
    grant_code(&state, &submitted.authorization, &user).await
}

/// A wait as a person reads it, rounded up.
fn in_words(seconds: u64) -> String {
    match seconds {
        0..=1 => "a second".into(),
        2..=59 => format!("{seconds} seconds"),
        60 => "a minute".into(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// A new account, then the sign-in form: an email that has an account gets the same page, so
/// that a stranger cannot learn from registration who has one (ADR 0014).
async fn register(State(state): State<AppState>, submitted: Submission) -> Response {
    let password = submitted.field("password").to_owned();
    let user = match super::users::new_customer(submitted.field("email"), password).await {
        Ok(user) => user,
        Err(rejected) => {
            return submitted.again(Form::Register, StatusCode::UNPROCESSABLE_ENTITY, Note::Error(&rejected), &[]);
        }
    };
    match store::insert_user(state.db.pool(), &user).await {
        Ok(()) => tracing::info!(user_id = %user.id, "registered"),
        Err(StoreError::EmailTaken) => tracing::info!("registration for an email that has an account, answered alike"),
        Err(error) => return internal(&error.to_string()),
    }
    submitted.again(Form::SignIn, StatusCode::OK, Note::Notice(REGISTERED), &[])
}

const REGISTERED: &str = "Your account is ready. Sign in with your new password.";

/// Issues a code for the signed-in user and sends the browser back to the client with it.
async fn grant_code(state: &AppState, authorization: &Authorization, user: &User) -> Response {
    let Ok(code) = secrets::generate() else { return internal("no randomness for the code") };
    let now = OffsetDateTime::now_utc();
    let grant = CodeGrant {
        client_id: authorization.client_id.clone(),
        user_id: user.id.clone(),
        redirect_uri: authorization.redirect_uri.clone(),
        scope: authorization.scope.clone(),
        nonce: authorization.nonce.clone(),
        code_challenge: authorization.code_challenge.clone(),
        auth_time: now.unix_timestamp(),
    };
    let ttl = time::Duration::seconds(i64::try_from(state.settings.authorization_code_ttl_s).unwrap_or(60));
    if let Err(error) = store::insert_code(state.db.pool(), &secrets::fingerprint(&code), &grant, now + ttl).await {
        return internal(&error.to_string());
    }
    let Ok(mut url) = Url::parse(&authorization.redirect_uri) else { return internal("unparsable redirect_uri") };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(state_param) = &authorization.state {
            query.append_pair("state", state_param);
        }
        // RFC 9207: lets the client check which issuer answered (mix-up attacks).
        query.append_pair("iss", state.issuer());
    }
    Redirect::to(url.as_str()).into_response()
}
