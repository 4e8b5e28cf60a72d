//! "Exactly one wins", under real concurrency on both backends: competing `If-Match` updates and
//! one `Idempotency-Key` sent many times at once.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

use crate::support::*;

on_both_backends!(competing_updates_of_one_version_let_exactly_one_win, one_idempotency_key_sent_at_once_creates_once);

const RACERS: usize = 8;

async fn competing_updates_of_one_version_let_exactly_one_win(backend: Backend) {
    let app = catalog(backend).await;
    let created = create(&app, &product("RACE-1", "Contended")).await;
    let url = app.url(&format!("{PRODUCTS}/{}", created["id"].as_str().unwrap()));
    let mut racing = JoinSet::new();
    for n in 0..RACERS {
        let (client, url) = (app.admin.clone(), url.clone());
        racing.spawn(async move {
            let body = product("RACE-1", &format!("Contender {n}"));
            client.put(&url).header("if-match", "\"1\"").json(&body).send().await.unwrap().status()
        });
    }
    let statuses: Vec<StatusCode> = racing.join_all().await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses.iter().filter(|s| **s == StatusCode::PRECONDITION_FAILED).count();
    assert_eq!((won, lost), (1, RACERS - 1), "{statuses:?}");
    let now: Value = app.client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["version"], 2, "one update applied: {now}");
    app.stop().await;
}

async fn one_idempotency_key_sent_at_once_creates_once(backend: Backend) {
    let app = catalog(backend).await;
    let mut racing = JoinSet::new();
    for _ in 0..RACERS {
        let (client, url) = (app.admin.clone(), app.url(PRODUCTS));
        racing.spawn(async move {
            let response = client
                .post(&url)
                .header("idempotency-key", "race-key")
                .json(&product("RACE-2", "Created once"))
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        });
    }
    let answers: Vec<(StatusCode, Value)> = racing.join_all().await;
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::CREATED, "every sender gets the one response: {body}");
            body["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one product, answered to every sender: {ids:?}");
    let listed = list(&app, "?q=created+once").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    app.stop().await;
}
