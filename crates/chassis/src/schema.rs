//! JSON Schema shapes that several services' request documents share, so that a document says
//! what the service checks and a client's generator builds only requests that are taken.

use utoipa::openapi::schema::{Object, ObjectBuilder, OneOfBuilder, Schema, Type};

/// A line of text as the services check one: not blank after trimming, no control characters
/// (Unicode's C0 and C1 ranges and DEL), at most `max_chars` characters.
pub fn text_line(max_chars: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"))
        .build()
}

/// Text that may be blank but holds no control characters, at most `max_chars` characters.
pub fn text(max_chars: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(max_chars))
        .pattern(Some(r"^[^\x00-\x1F\x7F-\x9F]*$"))
        .build()
}

/// A whole number in `-max..=max` other than zero: a change, up or down.
pub fn nonzero_change(max: i64) -> Schema {
    let range =
        |low: i64, high: i64| ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(low)).maximum(Some(high));
    Schema::OneOf(OneOfBuilder::new().item(range(1, max)).item(range(-max, -1)).build())
}
