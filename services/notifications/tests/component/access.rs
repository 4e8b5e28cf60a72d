//! Who may read what: a customer their own orders' notifications, an admin anyone's and the
//! sink's mail; the token matrix on both.

use flotilla_testkit::matrix::{Endpoint, assert_token_matrix};
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(customers_read_their_own_orders_and_admins_all, token_matrix);

async fn customers_read_their_own_orders_and_admins_all(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    let order_id = Uuid::now_v7();
    peer.send("ordering", &confirmed(order_id, customer("ada"))).await;
    wait_for(&app, order_id, 1, is("sent")).await;
    let url = app.url(&format!("{ORDERS}/{order_id}"));

    let own = customer_client(&app, "ada").get(&url).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let own: Vec<Value> = own.json().await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["subject"], format!("Your order {order_id} is confirmed"));
    assert_eq!((own[0]["status"].as_str(), own[0]["milestone"].as_str()), (Some("sent"), Some("confirmed")));

    let other = customer_client(&app, "bob").get(&url).send().await.unwrap();
    expect_problem(other, StatusCode::FORBIDDEN, "forbidden").await;
    let admin = app.admin.get(&url).send().await.unwrap();
    assert_eq!(admin.status(), StatusCode::OK);
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert!(anonymous.headers().contains_key("www-authenticate"));
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let nothing = app.admin.get(app.url(&format!("{ORDERS}/{}", Uuid::now_v7()))).send().await.unwrap();
    expect_problem(nothing, StatusCode::NOT_FOUND, "not-found").await;
    let sink_as_customer = customer_client(&app, "ada").get(app.url(SINK)).send().await.unwrap();
    expect_problem(sink_as_customer, StatusCode::FORBIDDEN, "forbidden").await;
    app.stop().await;
}

async fn token_matrix(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    let order_id = Uuid::now_v7();
    peer.send("ordering", &confirmed(order_id, customer("ada"))).await;
    wait_for(&app, order_id, 1, |_| true).await;
    let own = [Endpoint {
        method: Method::GET,
        url: app.url(&format!("{ORDERS}/{order_id}")),
        body: None,
        if_match: None,
        allowed: StatusCode::OK,
    }];
    let ada = app.issuer.claims("ada", &["customer"]);
    assert_token_matrix(&app, &own, &ada, &customer_client(&app, "ada")).await;
    let admin_only = [
        Endpoint { method: Method::GET, url: app.url(SINK), body: None, if_match: None, allowed: StatusCode::OK },
        Endpoint {
            method: Method::GET,
            url: app.url("/admin/dead-letters"),
            body: None,
            if_match: None,
            allowed: StatusCode::OK,
        },
    ];
    assert_token_matrix(&app, &admin_only, &app.issuer.claims("admin-1", &["admin"]), &app.admin).await;
    app.stop().await;
}
