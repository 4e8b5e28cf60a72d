use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    a_created_product_reads_back_with_location_and_etag,
    pages_follow_cursors_without_gaps_or_repeats,
    the_category_filter_narrows_the_list,
    search_matches_prefixes_requires_every_word_and_ranks_name_hits_first,
    ranked_search_results_paginate,
    updates_require_the_current_etag,
    a_deleted_product_is_gone_from_reads_and_search,
    a_duplicate_sku_is_a_conflict_and_changes_nothing,
    an_idempotency_key_replays_the_first_response,
    if_none_match_answers_not_modified,
    categories_count_their_products,
    the_demo_catalogue_loads_once,
);

async fn a_created_product_reads_back_with_location_and_etag(backend: Backend) {
    let app = catalog(backend).await;
    let response = app.admin.post(app.url(PRODUCTS)).json(&product("KIT-0001", "Skillet")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("{PRODUCTS}/{}", created["id"].as_str().unwrap()));

    let fetched = app.client.get(app.url(&location)).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["etag"], "\"1\"");
    let fetched: Value = fetched.json().await.unwrap();
    assert_eq!(fetched, created);
    assert_eq!(fetched["price"], json!({"amount_minor": 3499, "currency": "EUR"}));
    assert_eq!(fetched["attributes"]["weight_g"], 2300);
    app.stop().await;
}

async fn pages_follow_cursors_without_gaps_or_repeats(backend: Backend) {
    let app = catalog(backend).await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(create(&app, &product(&format!("SKU-{i:03}"), &format!("Item {i}"))).await["id"].clone());
    }
    let listed: Vec<Value> = all_pages(&app, "?limit=3").await.into_iter().map(|p| p["id"].clone()).collect();
    assert_eq!(listed, created, "pages must hold every product once, in creation order");
    assert!(list(&app, "?limit=7").await["next_cursor"].is_null(), "an exact last page has no cursor");
    app.stop().await;
}

async fn the_category_filter_narrows_the_list(backend: Backend) {
    let app = catalog(backend).await;
    create(&app, &product("KIT-1", "Pan")).await;
    let mut lamp = product("LGT-1", "Lamp");
    lamp["category"] = json!("lighting");
    create(&app, &lamp).await;
    let page = list(&app, "?category=lighting").await;
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Lamp"]);
    assert_eq!(list(&app, "?category=garden").await["items"], json!([]));
    app.stop().await;
}

async fn search_matches_prefixes_requires_every_word_and_ranks_name_hits_first(backend: Backend) {
    let app = catalog(backend).await;
    let mut in_description = product("KIT-1", "Frying Pan");
    in_description["description"] = json!("Heavy enough to replace a cast-iron skillet.");
    create(&app, &in_description).await;
    create(&app, &product("KIT-2", "Cast-Iron Skillet")).await;
    create(&app, &product("KIT-3", "Salad Bowl")).await;

    let names = |page: Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(list(&app, "?q=skil").await), ["Cast-Iron Skillet", "Frying Pan"]);
    assert_eq!(names(list(&app, "?q=SKILLET%20iron").await), ["Cast-Iron Skillet", "Frying Pan"]);
    assert_eq!(names(list(&app, "?q=skillet%20bowl").await), Vec::<String>::new());
    assert_eq!(names(list(&app, "?q=bowl&category=kitchen").await), ["Salad Bowl"]);
    app.stop().await;
}

async fn ranked_search_results_paginate(backend: Backend) {
    let app = catalog(backend).await;
    for i in 0..5 {
        create(&app, &product(&format!("LAMP-{i}"), &format!("Desk Lamp {i}"))).await;
    }
    let all = all_pages(&app, "?q=lamp&limit=2").await;
    let mut skus: Vec<String> = all.iter().map(|p| p["sku"].as_str().unwrap().to_owned()).collect();
    assert_eq!(skus.len(), 5);
    skus.sort();
    skus.dedup();
    assert_eq!(skus.len(), 5, "no product appears twice across ranked pages");

    let page = list(&app, "?q=lamp&limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let mismatched = app.client.get(app.url(&format!("{PRODUCTS}?cursor={cursor}"))).send().await.unwrap();
    expect_problem(mismatched, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    app.stop().await;
}

async fn updates_require_the_current_etag(backend: Backend) {
    let app = catalog(backend).await;
    let created = create(&app, &product("KIT-1", "Pan")).await;
    let url = app.url(&format!("{PRODUCTS}/{}", created["id"].as_str().unwrap()));
    let mut changed = product("KIT-1", "Better Pan");
    changed["price"]["amount_minor"] = json!(3999);

    let without = app.admin.put(&url).json(&changed).send().await.unwrap();
    expect_problem(without, StatusCode::PRECONDITION_REQUIRED, "precondition-required").await;

    let updated = app.admin.put(&url).header("if-match", "\"1\"").json(&changed).send().await.unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(updated.headers()["etag"], "\"2\"");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!((updated["version"].as_i64(), updated["name"].as_str()), (Some(2), Some("Better Pan")));
    assert_eq!(updated["created_at"], created["created_at"]);

    let stale = app.admin.put(&url).header("if-match", "\"1\"").json(&changed).send().await.unwrap();
    expect_problem(stale, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;

    let fetched: Value = app.client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(fetched["price"]["amount_minor"], 3999);
    let search = list(&app, "?q=better").await;
    assert_eq!(search["items"].as_array().unwrap().len(), 1, "the search index follows the new name");

    let missing = app.url(&format!("{PRODUCTS}/{}", uuid::Uuid::now_v7()));
    let gone = app.admin.put(&missing).header("if-match", "*").json(&changed).send().await.unwrap();
    expect_problem(gone, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

async fn a_deleted_product_is_gone_from_reads_and_search(backend: Backend) {
    let app = catalog(backend).await;
    let created = create(&app, &product("KIT-1", "Skillet")).await;
    let url = app.url(&format!("{PRODUCTS}/{}", created["id"].as_str().unwrap()));

    let stale = app.admin.delete(&url).header("if-match", "\"9\"").send().await.unwrap();
    expect_problem(stale, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
    assert_eq!(
        app.admin.delete(&url).header("if-match", "\"1\"").send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(app.client.get(&url).send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    expect_problem(app.admin.delete(&url).send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    assert_eq!(list(&app, "?q=skillet").await["items"], json!([]));
    // The SKU is free again.
    create(&app, &product("KIT-1", "Skillet")).await;
    app.stop().await;
}

async fn a_duplicate_sku_is_a_conflict_and_changes_nothing(backend: Backend) {
    let app = catalog(backend).await;
    create(&app, &product("KIT-1", "Skillet")).await;
    let again = app.admin.post(app.url(PRODUCTS)).json(&product("KIT-1", "Wok")).send().await.unwrap();
    expect_problem(again, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(list(&app, "?q=wok").await["items"], json!([]), "the failed insert left no search terms");
    assert_eq!(list(&app, "").await["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

async fn an_idempotency_key_replays_the_first_response(backend: Backend) {
    let app = catalog(backend).await;
    let send = |body: Value| app.admin.post(app.url(PRODUCTS)).header("idempotency-key", "order-42").json(&body).send();
    let first = send(product("KIT-1", "Skillet")).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();

    let retry = send(product("KIT-1", "Skillet")).await.unwrap();
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["location"], first_location);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);

    let reused = send(product("KIT-2", "Wok")).await.unwrap();
    expect_problem(reused, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    assert_eq!(list(&app, "").await["items"].as_array().unwrap().len(), 1, "exactly one product was created");

    let bad_key = app
        .admin
        .post(app.url(PRODUCTS))
        .header("idempotency-key", "")
        .json(&product("KIT-3", "Pot"))
        .send()
        .await
        .unwrap();
    expect_problem(bad_key, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    app.stop().await;
}

async fn if_none_match_answers_not_modified(backend: Backend) {
    let app = catalog(backend).await;
    let created = create(&app, &product("KIT-1", "Skillet")).await;
    let url = app.url(&format!("{PRODUCTS}/{}", created["id"].as_str().unwrap()));
    let cached = app.client.get(&url).header("if-none-match", "\"1\"").send().await.unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let changed = app.client.get(&url).header("if-none-match", "\"0\"").send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    app.stop().await;
}

async fn categories_count_their_products(backend: Backend) {
    let app = catalog(backend).await;
    create(&app, &product("KIT-1", "Pan")).await;
    create(&app, &product("KIT-2", "Pot")).await;
    let mut lamp = product("LGT-1", "Lamp");
    lamp["category"] = json!("lighting");
    create(&app, &lamp).await;
    let categories: Value =
        app.client.get(app.url("/api/v1/catalog/categories")).send().await.unwrap().json().await.unwrap();
    assert_eq!(categories, json!([{"name": "kitchen", "product_count": 2}, {"name": "lighting", "product_count": 1}]));
    app.stop().await;
}

async fn the_demo_catalogue_loads_once(backend: Backend) {
    let app =
        flotilla_testkit::spawn(&flotilla_catalog::SERVICE, backend, &[("services.catalog.seed", json!(true))]).await;
    let count = all_pages(&app, "?limit=100").await.len();
    assert!(count >= 100, "{count}");
    let only = list(&app, "?limit=1").await["items"][0]["id"].clone();
    let url = app.url(&format!("{PRODUCTS}/{}", only.as_str().unwrap()));
    assert_eq!(app.admin.delete(&url).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    let app = app.restart().await;
    assert_eq!(all_pages(&app, "?limit=100").await.len(), count - 1, "a restart does not load the demo again");
    app.stop().await;
}
