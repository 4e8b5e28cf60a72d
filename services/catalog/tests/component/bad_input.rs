use flotilla_testkit::{Backend, on_both_backends};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(malformed_bodies_get_problems_and_write_nothing, bad_parameters_get_problems);

async fn malformed_bodies_get_problems_and_write_nothing(backend: Backend) {
    let app = catalog(backend).await;
    let existing = create(&app, &product("KEEP-1", "Kept")).await;
    let existing_url = app.url(&format!("{PRODUCTS}/{}", existing["id"].as_str().unwrap()));

    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = product("NEW-1", "New");
        change(&mut body);
        body.to_string()
    };
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        ("truncated JSON", r#"{"sku": "A"#.into(), StatusCode::BAD_REQUEST, "malformed-body"),
        ("not JSON", "sku=A".into(), StatusCode::BAD_REQUEST, "malformed-body"),
        ("trailing garbage", format!("{} x", product("NEW-1", "New")), StatusCode::BAD_REQUEST, "malformed-body"),
        ("empty body", String::new(), StatusCode::BAD_REQUEST, "malformed-body"),
        ("an array", "[]".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "price as text",
            with(&|b| b["price"]["amount_minor"] = json!("12.00")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "float price",
            with(&|b| b["price"]["amount_minor"] = json!(12.5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "negative price",
            with(&|b| b["price"]["amount_minor"] = json!(-1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "overflowing price",
            with(&|b| b["price"]["amount_minor"] = json!(9_223_372_036_854_775_808u64)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "absurd price",
            with(&|b| b["price"]["amount_minor"] = json!(10_000_000_001i64)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "unknown currency",
            with(&|b| b["price"]["currency"] = json!("ABC")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "lower-case currency",
            with(&|b| b["price"]["currency"] = json!("eur")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        ("unknown field", with(&|b| b["colour"] = json!("red")), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "unknown price field",
            with(&|b| b["price"]["tax"] = json!(1)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "missing name",
            with(&|b| {
                b.as_object_mut().unwrap().remove("name");
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        ("null sku", with(&|b| b["sku"] = json!(null)), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "nested attribute",
            with(&|b| b["attributes"]["size"] = json!({"w": 1})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "float attribute",
            with(&|b| b["attributes"]["ratio"] = json!(0.5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        ("bad sku", with(&|b| b["sku"] = json!("no spaces allowed")), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "oversized body",
            with(&|b| b["description"] = json!("x".repeat(300 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
        ),
    ];
    for (what, body, status, slug) in cases {
        for (method, url) in [(reqwest::Method::POST, app.url(PRODUCTS)), (reqwest::Method::PUT, existing_url.clone())]
        {
            let response = app
                .admin
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .header("if-match", "*")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{what} on {method}");
            let problem = expect_problem(response, status, slug).await;
            if slug == "validation" {
                assert!(!problem["errors"].as_array().unwrap().is_empty(), "{what}: {problem}");
            }
        }
    }
    let field = |body: String| async {
        let response = app
            .admin
            .post(app.url(PRODUCTS))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        flotilla_testkit::location(
            &expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await["errors"][0],
        )
    };
    assert_eq!(field(with(&|b| b["price"]["amount_minor"] = json!("x"))).await, "/price/amount_minor");
    assert_eq!(field(with(&|b| b["price"]["currency"] = json!("XXX"))).await, "/price/currency");

    let no_type = app.admin.post(app.url(PRODUCTS)).body(product("NEW-1", "New").to_string()).send().await.unwrap();
    expect_problem(no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;

    let all = all_pages(&app, "").await;
    assert_eq!(all.len(), 1, "no bad request wrote anything");
    assert_eq!(all[0], existing, "no bad request changed the existing product");
    app.stop().await;
}

async fn bad_parameters_get_problems(backend: Backend) {
    let app = catalog(backend).await;
    for query in [
        "?limit=0",
        "?limit=101",
        "?limit=-1",
        "?limit=ten",
        "?cursor=not-a-cursor",
        "?cursor=YTpub3QtYS11dWlk",
        "?q=",
        "?q=%20-%20",
        "?unknown=1",
    ] {
        let response = app.client.get(app.url(&format!("{PRODUCTS}{query}"))).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    for path in ["/not-a-uuid", "/123", "/%00"] {
        let response = app.client.get(app.url(&format!("{PRODUCTS}{path}"))).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    let unknown = app.client.get(app.url(&format!("{PRODUCTS}/{}", uuid::Uuid::now_v7()))).send().await.unwrap();
    expect_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::from(serde_json::Map::from_iter(m))),
        ]
    })
}

const FIELDS: &[&str] = &[
    "/sku",
    "/name",
    "/description",
    "/price",
    "/price/amount_minor",
    "/price/currency",
    "/category",
    "/image",
    "/attributes",
];

/// Any value in any field, created (POST) or replacing an existing product (PUT), gives a success
/// or a 4xx problem (`application/problem+json`), never a 5xx; a rejected request writes nothing.
/// One service per backend for all cases, each case with a SKU of its own.
fn any_field_value_is_handled(backend: Backend) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, existing_url) = runtime.block_on(async {
        let app = catalog(backend).await;
        let existing = create(&app, &product("KEEP-1", "Kept")).await;
        let url = app.url(&format!("{PRODUCTS}/{}", existing["id"].as_str().unwrap()));
        (app, url)
    });
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    let strategy = (proptest::sample::select(FIELDS), arbitrary_json(), "[A-Z]{3}-[0-9]{4}");
    let result = TestRunner::new(config).run(&strategy, |(field, value, sku)| {
        runtime.block_on(async {
            let mut body = product(&sku, "Anything");
            *body.pointer_mut(field).unwrap() = value;
            let stored_before = all_pages(&app, "").await;
            let created = app.admin.post(app.url(PRODUCTS)).json(&body).send().await.unwrap();
            let status = created.status();
            answered(created, StatusCode::CREATED, &format!("POST {body}")).await;
            let stored = all_pages(&app, "").await;
            let grown = usize::from(status == StatusCode::CREATED);
            assert_eq!(stored.len(), stored_before.len() + grown, "{status} for POST {body}");

            let before: Value = app.client.get(&existing_url).send().await.unwrap().json().await.unwrap();
            let replaced = app.admin.put(&existing_url).header("if-match", "*").json(&body).send().await.unwrap();
            let status = replaced.status();
            answered(replaced, StatusCode::OK, &format!("PUT {body}")).await;
            if status != StatusCode::OK {
                let after: Value = app.client.get(&existing_url).send().await.unwrap().json().await.unwrap();
                assert_eq!(after, before, "{status} for PUT {body} changed the product");
            }
            assert_eq!(all_pages(&app, "").await.len(), stored.len(), "{status} for PUT {body}");
        });
        Ok(())
    });
    runtime.block_on(app.stop());
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// `success`, or a 4xx answered as `application/problem+json` with its own status in the document.
async fn answered(response: reqwest::Response, success: StatusCode, what: &str) {
    let status = response.status();
    if status == success {
        return;
    }
    assert!(status.is_client_error(), "{status} for {what}");
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{status} for {what}"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status.as_u16(), "{what}: {problem}");
}

#[test]
fn any_field_value_is_handled_on_sqlite() {
    any_field_value_is_handled(Backend::Sqlite);
}

#[test]
fn any_field_value_is_handled_on_postgres() {
    any_field_value_is_handled(Backend::Postgres);
}
