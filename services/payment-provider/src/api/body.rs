//! A JSON body that may be left out, as processors allow on `capture` and `cancel`: no body means
//! the defaults; a body is checked exactly as the chassis' `Json` checks one.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use flotilla_chassis::extract::Json;
use flotilla_chassis::{Problem, ProblemKind};
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.headers().contains_key(header::CONTENT_TYPE) {
            return Json::<T>::from_request(request, state).await.map(|Json(value)| Self(value));
        }
        // Without a media type only an empty body is acceptable.
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(ProblemKind::PayloadTooLarge)
            } else {
                Problem::new(ProblemKind::MalformedBody).with_detail(rejection.body_text())
            }
        })?;
        if bytes.is_empty() { Ok(Self(T::default())) } else { Err(Problem::new(ProblemKind::UnsupportedMediaType)) }
    }
}
