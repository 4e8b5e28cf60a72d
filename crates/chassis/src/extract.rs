//! Request extractors whose every rejection is a problem document, never axum's plain text.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::objects_only::ObjectsOnly;
use crate::problem::{FieldViolation, Problem, ProblemKind};

/// A JSON body. Errors carry the JSON pointer of the offending field.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(ProblemKind::UnsupportedMediaType));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        decode(&bytes).map(Json)
    }
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_rejection(rejection: BytesRejection) -> Problem {
    if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(ProblemKind::PayloadTooLarge)
    } else {
        Problem::new(ProblemKind::MalformedBody).with_detail(rejection.body_text())
    }
}

/// Decodes a JSON document, telling syntax errors (400) from shape errors (422, with the field).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut document: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| Problem::new(ProblemKind::MalformedBody).with_detail(error.to_string()))?;
    whole_numbers(&mut document);
    serde_path_to_error::deserialize(ObjectsOnly(&document)).map_err(|error| {
        let pointer = pointer(error.path());
        let message = error.into_inner().to_string();
        // serde names a missing field only in its message; point at the field itself.
        let pointer = match message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`')) {
            Some(field) => format!("{pointer}/{field}"),
            None => pointer,
        };
        Problem::validation(vec![FieldViolation::new(pointer, message)])
    })
}

/// `2.0` is the integer 2 to JSON Schema (and to every JSON encoder that writes floats), but not
/// to serde: numbers without a fraction become integers before the shape is checked.
fn whole_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) if number.is_f64() => {
            if let Some(float) = number.as_f64()
                && float.fract() == 0.0
                && float.abs() < 9.0e15
            {
                // Exact: below 2^53 every whole f64 is an integer i64 can hold.
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(members) => members.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// Query parameters; a bad one is a 400 naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| {
                Problem::new(ProblemKind::InvalidParameter).with_detail(rejection.body_text())
            })
    }
}

/// Path parameters; a malformed one (say, not a UUID) is a 400 naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| {
                Problem::new(ProblemKind::InvalidParameter).with_detail(rejection.body_text())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        price: Price,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Price {
        amount_minor: i64,
    }

    #[test]
    fn a_type_error_points_at_the_field() {
        let problem = decode::<Body>(br#"{"price":{"amount_minor":"ten"}}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "/price/amount_minor");
        assert!(!problem.errors[0].message.contains("line"), "{:?}", problem.errors);
    }

    #[test]
    fn an_overflowing_number_is_a_field_error() {
        let problem = decode::<Body>(br#"{"price":{"amount_minor":99999999999999999999}}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "/price/amount_minor");
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_is_an_integer_as_json_schema_says() {
        let body = decode::<Body>(br#"{"price":{"amount_minor":4449.0}}"#).unwrap();
        assert_eq!(body.price.amount_minor, 4449);
        let problem = decode::<Body>(br#"{"price":{"amount_minor":4449.5}}"#).unwrap_err();
        assert_eq!((problem.status, problem.errors[0].field.as_str()), (422, "/price/amount_minor"));
        assert!(decode::<Body>(br#"{"price":{"amount_minor":1e300}}"#).is_err());
    }

    #[test]
    fn a_struct_is_read_from_an_object_only_never_from_an_array_of_its_fields() {
        assert!(decode::<Price>(br#"[5]"#).is_err(), "serde alone reads a struct from an array");
        let nested = decode::<Body>(br#"{"price":[5]}"#).unwrap_err();
        assert_eq!((nested.status, nested.errors[0].field.as_str()), (422, "/price"));
        assert!(nested.errors[0].message.contains("an object"), "{:?}", nested.errors);
        let body = decode::<Body>(br#"{"price":{"amount_minor":5}}"#).unwrap();
        assert_eq!(body.price.amount_minor, 5);
    }

    #[test]
    fn options_sequences_maps_and_enums_still_read_as_serde_reads_them() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Colour {
            DeepRed,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Shapes {
            maybe: Option<Price>,
            many: Vec<Price>,
            named: std::collections::BTreeMap<String, i64>,
            colour: Colour,
        }
        let shapes: Shapes = decode(
            br#"{"maybe":null,"many":[{"amount_minor":1},{"amount_minor":2}],"named":{"a":1},"colour":"deep_red"}"#,
        )
        .unwrap();
        assert!(shapes.maybe.is_none());
        assert_eq!(shapes.many.len(), 2);
        assert_eq!(shapes.named["a"], 1);
        assert_eq!(shapes.colour, Colour::DeepRed);
        assert!(decode::<Shapes>(br#"{"maybe":null,"many":[[1]],"named":{},"colour":"deep_red"}"#).is_err());
    }

    #[test]
    fn a_missing_field_is_pointed_at() {
        let problem = decode::<Body>(br#"{"price":{}}"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "/price/amount_minor");
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        assert_eq!(decode::<Body>(br#"{"price":"#).unwrap_err().status, 400);
        assert_eq!(decode::<Body>(br#"{"price":{"amount_minor":1}} trailing"#).unwrap_err().status, 400);
    }

    #[test]
    fn an_unknown_field_is_named() {
        let problem = decode::<Body>(br#"{"price":{"amount_minor":1},"colour":"red"}"#).unwrap_err();
        assert_eq!(problem.status, 422);
        assert!(problem.errors[0].message.contains("colour"), "{:?}", problem.errors);
    }
}
