use flotilla_testkit::{Backend, on_both_backends};
use proptest::prelude::*;
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any value in any field gives 201 or a 4xx problem, never a 5xx; a rejected request writes nothing.
    #[test]
    fn any_field_value_is_handled(field in proptest::sample::select(FIELDS), value in arbitrary_json(), sku in "[A-Z]{3}-[0-9]{4}") {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = catalog(Backend::Sqlite).await;
            let mut body = product(&sku, "Anything");
            *body.pointer_mut(field).unwrap() = value;
            let response = app.admin.post(app.url(PRODUCTS)).json(&body).send().await.unwrap();
            let status = response.status();
            assert!(status == StatusCode::CREATED || status.is_client_error(), "{status} for {body}");
            let stored = all_pages(&app, "").await.len();
            assert_eq!(stored, usize::from(status == StatusCode::CREATED), "{status} for {body}");
            app.stop().await;
        });
    }
}
