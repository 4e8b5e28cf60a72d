//! The published OpenAPI documents as a consumer reads them (`docs/api/`, equal to what the
//! services serve by invariant 5): every answer an operation lists shows an example body, and
//! every schema, field and parameter says what it is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::Value;

fn documents() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api");
    let mut documents: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".openapi.json"))
        .map(|path: PathBuf| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap())
        })
        .collect();
    documents.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        documents.len() >= 9,
        "every service's document is read: {:?}",
        documents.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    documents
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// `(path, method, operation)` for every operation of a document.
fn operations(document: &Value) -> impl Iterator<Item = (&str, &str, &Value)> {
    document["paths"].as_object().unwrap().iter().flat_map(|(path, item)| {
        METHODS.iter().filter_map(move |method| item.get(*method).map(|operation| (path.as_str(), *method, operation)))
    })
}

/// The component a `$ref` names, or the schema itself.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn has_example(value: &Value) -> bool {
    value.get("example").is_some() || value.get("examples").is_some_and(|examples| !is_empty(examples))
}

fn is_empty(value: &Value) -> bool {
    value.as_object().is_some_and(serde_json::Map::is_empty) || value.as_array().is_some_and(Vec::is_empty)
}

fn is_described(value: &Value) -> bool {
    value.get("description").and_then(Value::as_str).is_some_and(|text| !text.trim().is_empty())
}

/// A body's example is on its media type or on the schema it names (or, for a list, on the
/// schema of its items): a type shared by several answers carries its example once.
#[test]
fn every_documented_answer_shows_an_example_body() {
    let mut missing = Vec::new();
    for (name, document) in documents() {
        for (path, method, operation) in operations(&document) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                for (media, content) in response.get("content").and_then(Value::as_object).into_iter().flatten() {
                    let schema = content.get("schema").map(|schema| resolve(&document, schema));
                    // A list of a named schema is shown by that schema's example, as documentation
                    // viewers render it.
                    let items = schema.and_then(|schema| schema.get("items")).map(|items| resolve(&document, items));
                    if !has_example(content) && !schema.is_some_and(has_example) && !items.is_some_and(has_example) {
                        missing.push(format!("{name}: {method} {path} {status} {media}"));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "{} answers have no example body:\n{}", missing.len(), missing.join("\n"));
}

/// A field that names another schema is described by that schema's description.
#[test]
fn every_schema_field_and_parameter_is_described() {
    let mut missing = Vec::new();
    for (name, document) in documents() {
        for (schema_name, schema) in document["components"]["schemas"].as_object().unwrap() {
            if !is_described(schema) {
                missing.push(format!("{name}: schema {schema_name}"));
            }
            for (field, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
                if !is_described(property) && !is_described(resolve(&document, property)) {
                    missing.push(format!("{name}: {schema_name}.{field}"));
                }
            }
        }
        for (path, method, operation) in operations(&document) {
            for parameter in operation.get("parameters").and_then(Value::as_array).into_iter().flatten() {
                if !is_described(parameter) {
                    missing.push(format!("{name}: {method} {path} parameter {}", parameter["name"]));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} schemas, fields and parameters are not described:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
