//! The answers the common stack gives on every route, written into each operation's document,
//! so that no handler has to repeat them and none can forget one: a body that is not JSON of
//! the expected shape (400, 413, 415, 422), a malformed path or query parameter (400), a token
//! that is not acceptable (401), and shedding or a timeout under load (503). A handler that
//! documents one of these statuses itself keeps its own description.

use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{OpenApi, Ref, RefOr};

use crate::problem::{CONTENT_TYPE, Problem, ProblemKind};

/// Adds the stack's answers to every operation of `api` (the API routes, not the probes), and an
/// example body to every problem answer, one per problem type where a status stands for several.
pub fn document(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        for operation in operations(item) {
            let answers = stack_answers(operation);
            let mut statuses: Vec<String> = answers.iter().map(|(kind, _)| status_of(*kind)).collect();
            statuses.dedup();
            statuses.retain(|status| add(operation, status, &answers));
            exemplify(operation, &answers, &statuses);
        }
    }
}

/// What the stack itself may answer on `operation`, each problem type with when it does.
fn stack_answers(operation: &Operation) -> Vec<(ProblemKind, &'static str)> {
    let mut answers = Vec::new();
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
    answers.extend([
        (ProblemKind::Overloaded, "The service is shedding load"),
        (ProblemKind::Timeout, "The request took too long and was abandoned"),
    ]);
    // Grouped by status, in the order first seen, so that one answer describes each status.
    let order: Vec<String> = answers.iter().map(|(kind, _)| status_of(*kind)).collect();
    answers.sort_by_key(|(kind, _)| order.iter().position(|status| *status == status_of(*kind)));
    answers
}

fn status_of(kind: ProblemKind) -> String {
    Problem::new(kind).status().as_u16().to_string()
}

/// The stack's answer with `status`, unless the operation documents that status already;
/// whether it was added.
fn add(operation: &mut Operation, status: &str, answers: &[(ProblemKind, &'static str)]) -> bool {
    if operation.responses.responses.contains_key(status) {
        return false;
    }
    let mut description = String::new();
    for (_, when) in answers.iter().filter(|(kind, _)| status_of(*kind) == status) {
        if description.is_empty() {
            description.push_str(when);
        } else {
            description.push_str(", or ");
            description.push_str(&when.to_lowercase());
        }
    }
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let response = ResponseBuilder::new().description(description).content(CONTENT_TYPE, content).build();
    operation.responses.responses.insert(status.to_owned(), RefOr::T(response));
    true
}

/// Gives every problem answer without an example one body per problem type its status can
/// carry here: on a status only the stack answers (`added`), the stack's types; on one a
/// handler documents, also every type of that status that a handler answers (the idempotency
/// type only where the operation takes an `Idempotency-Key`), with the answer's description as
/// the detail.
fn exemplify(operation: &mut Operation, answers: &[(ProblemKind, &'static str)], added: &[String]) {
    let takes_idempotency_key = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(parameter)
            if parameter.parameter_in == ParameterIn::Header && parameter.name.eq_ignore_ascii_case("idempotency-key"))
    });
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else { continue };
        let description = response.description.clone();
        let only_the_stack = added.contains(status);
        let Some(RefOr::T(content)) = response.content.get_mut(CONTENT_TYPE) else { continue };
        if content.example.is_some() || !content.examples.is_empty() {
            continue;
        }
        let problems: Vec<Problem> = ProblemKind::ALL
            .into_iter()
            .filter(|kind| status_of(*kind) == *status)
            .filter_map(|kind| match answers.iter().find(|(answered, _)| *answered == kind) {
                Some((_, detail)) => Some(Problem::new(kind).with_detail(*detail)),
                None if only_the_stack || STACK_ONLY.contains(&kind) => None,
                None if kind == ProblemKind::IdempotencyKeyReused && !takes_idempotency_key => None,
                None => Some(Problem::new(kind).with_detail(description.clone())),
            })
            .collect();
        show(content, problems);
    }
}

/// Problem types that only the common stack answers, never a handler.
const STACK_ONLY: [ProblemKind; 6] = [
    ProblemKind::MalformedBody,
    ProblemKind::PayloadTooLarge,
    ProblemKind::UnsupportedMediaType,
    ProblemKind::InvalidParameter,
    ProblemKind::Overloaded,
    ProblemKind::Timeout,
];

/// One example as `example`; several as named `examples`, each named by its problem type.
fn show(content: &mut Content, problems: Vec<Problem>) {
    match problems.as_slice() {
        [] => {}
        [problem] => content.example = serde_json::to_value(problem).ok(),
        _ => {
            for problem in problems {
                let name = problem.kind.trim_start_matches("urn:flotilla:problem:").to_owned();
                let example = ExampleBuilder::new().summary(problem.title).value(serde_json::to_value(&problem).ok());
                content.examples.insert(name, RefOr::T(example.build()));
            }
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
