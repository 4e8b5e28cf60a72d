//! The answers the common stack gives on every route, written into each operation's document,
//! so that no handler has to repeat them and none can forget one: a body that is not JSON of
//! the expected shape (400, 413, 415, 422), a malformed path or query parameter (400), a token
//! that is not acceptable (401), and shedding or a timeout under load (503). A handler that
//! documents one of these statuses itself keeps its own description.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{OpenApi, Ref, RefOr};

use crate::problem::{CONTENT_TYPE, Problem, ProblemKind};

/// Adds the stack's answers to every operation of `api` (the API routes, not the probes).
pub fn document(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        for operation in operations(item) {
            let mut answers =
                vec![(ProblemKind::Overloaded, "The service is shedding load or the request took too long")];
            if operation.request_body.is_some() {
                answers.extend([
                    (ProblemKind::MalformedBody, "The body is not well-formed JSON"),
                    (ProblemKind::PayloadTooLarge, "The body is larger than the service accepts"),
                    (ProblemKind::UnsupportedMediaType, "The body is not application/json"),
                    (ProblemKind::Validation, "The body does not have the expected shape"),
                ]);
            }
            if operation.parameters.as_ref().is_some_and(|parameters| !parameters.is_empty()) {
                answers.push((ProblemKind::InvalidParameter, "A path or query parameter is not valid"));
            }
            if names_bearer(operation) {
                answers.push((ProblemKind::Unauthenticated, "The access token is missing or not acceptable"));
            }
            for (kind, description) in answers {
                add(operation, kind, description);
            }
            exemplify(operation);
        }
    }
}

/// Gives a problem response a handler documented an example body where its status names one
/// problem type (404 is `not-found`; 400, 422 and 503 stand for several and keep none), with the
/// response's description as the detail.
fn exemplify(operation: &mut Operation) {
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else { continue };
        let Some(RefOr::T(content)) = response.content.get_mut(CONTENT_TYPE) else { continue };
        let mut kinds =
            ProblemKind::ALL.into_iter().filter(|kind| Problem::new(*kind).status().as_u16().to_string() == *status);
        if content.example.is_none()
            && let (Some(kind), None) = (kinds.next(), kinds.next())
        {
            content.example = serde_json::to_value(Problem::new(kind).with_detail(response.description.clone())).ok();
        }
    }
}

pub(super) fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head, &mut item.options]
        .into_iter()
        .flatten()
}

fn names_bearer(operation: &Operation) -> bool {
    operation
        .security
        .iter()
        .flatten()
        .any(|requirement| serde_json::to_value(requirement).is_ok_and(|value| value.get("bearer").is_some()))
}

/// The problem `kind` as a documented response, with an example body, unless the operation
/// documents that status already.
fn add(operation: &mut Operation, kind: ProblemKind, description: &str) {
    let problem = Problem::new(kind);
    let status = problem.status().as_u16().to_string();
    if operation.responses.responses.contains_key(&status) {
        return;
    }
    let example = serde_json::to_value(problem.with_detail(description)).ok();
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).example(example).build();
    let response = ResponseBuilder::new().description(description).content(CONTENT_TYPE, content).build();
    operation.responses.responses.insert(status, RefOr::T(response));
}
