//! Shipments over HTTP: a customer tracks their own, an admin sees and lists them all, and no
//! one else gets in.

use flotilla_contracts::shipping::{CancelShipmentV1, ShipmentCancelledV1};
use flotilla_testkit::matrix::{Endpoint, assert_token_matrix};
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::*;

on_both_backends!(only_the_customer_and_admins_see_a_shipment, admins_page_through_shipments, token_matrix);

async fn only_the_customer_and_admins_see_a_shipment(backend: Backend) {
    let (app, _nats) = service(backend, NEVER, NEVER).await;
    let mut ordering = ordering(&app).await;
    let (order, labelled) = ship(&mut ordering, CUSTOMER).await;
    let url = app.url(&format!("{SHIPMENTS}/{}", order.order_id));

    let own = shipment(&app, &customer(&app, CUSTOMER), order.order_id).await;
    assert_eq!(own["tracking_number"], labelled.tracking_number);
    assert_eq!(shipment(&app, &app.admin, order.order_id).await, own, "an admin sees the same");
    let other = customer(&app, "customer-8").get(&url).send().await.unwrap();
    let problem = expect_problem(other, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(problem.get("tracking_number").is_none() && !problem.to_string().contains(&labelled.tracking_number));
    let anonymous = app.client.get(&url).send().await.unwrap();
    assert!(anonymous.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // The customer's own token does not open the admin list.
    let list = customer(&app, CUSTOMER).get(app.url(SHIPMENTS)).send().await.unwrap();
    expect_problem(list, StatusCode::FORBIDDEN, "forbidden").await;
    app.stop().await;
}

async fn admins_page_through_shipments(backend: Backend) {
    let (app, _nats) = service(backend, NEVER, NEVER).await;
    let mut ordering = ordering(&app).await;
    let mut shipped = Vec::new();
    for who in ["customer-7", "customer-8", "customer-9"] {
        let (_, labelled) = ship(&mut ordering, who).await;
        shipped.push(labelled);
    }
    // A barred order is no shipment, and is not listed.
    let barred = confirmed(CUSTOMER).order_id;
    ordering.send("ordering", &CancelShipmentV1 { order_id: barred }).await;
    ordering.expect::<ShipmentCancelledV1>().await;
    // Cancel the second shipment, so that one is of another status.
    ordering.send("ordering", &CancelShipmentV1 { order_id: shipped[1].order_id }).await;
    ordering.receive(2).await;

    let page = |query: &str| {
        let url = app.url(&format!("{SHIPMENTS}{query}"));
        let admin = app.admin.clone();
        async move {
            let response = admin.get(url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|i| i["shipment_id"].as_str().unwrap().to_owned()).collect()
    };
    let id = |n: usize| shipped[n].shipment_id.to_string();

    let first = page("?limit=2").await;
    assert_eq!(ids(&first), [id(0), id(1)], "oldest first");
    assert_eq!(first["next_after"], id(1));
    let item = &first["items"][0];
    assert_eq!(
        (item["order_id"].as_str(), item["customer_id"].as_str(), item["status"].as_str()),
        (Some(shipped[0].order_id.to_string().as_str()), Some("customer-7"), Some("label_created"))
    );
    assert_eq!(item["tracking_number"], shipped[0].tracking_number);
    let second = page(&format!("?limit=2&after={}", id(1))).await;
    assert_eq!(ids(&second), [id(2)]);
    assert!(second["next_after"].is_null(), "the last page says so");
    assert_eq!(ids(&page("").await), [id(0), id(1), id(2)]);

    assert_eq!(ids(&page("?status=label_created").await), [id(0), id(2)]);
    assert_eq!(ids(&page("?status=cancelled").await), [id(1)]);
    assert_eq!(ids(&page(&format!("?status=label_created&after={}", id(0))).await), [id(2)]);
    assert!(ids(&page("?status=delivered").await).is_empty());
    app.stop().await;
}

async fn token_matrix(backend: Backend) {
    let (app, _nats) = service(backend, NEVER, NEVER).await;
    let mut ordering = ordering(&app).await;
    let (order, _) = ship(&mut ordering, CUSTOMER).await;
    let get = |url: String| Endpoint { method: Method::GET, url, body: None, if_match: None, allowed: StatusCode::OK };
    // The owner's own shipment: every forgery of the owner's token, and everyone else, is refused.
    let own = [get(app.url(&format!("{SHIPMENTS}/{}", order.order_id)))];
    let owner = customer(&app, CUSTOMER);
    assert_token_matrix(&app, &own, &app.issuer.claims(CUSTOMER, &["customer"]), &owner).await;
    let admin_only = [get(app.url(SHIPMENTS)), get(app.url("/admin/dead-letters"))];
    assert_token_matrix(&app, &admin_only, &app.issuer.claims("admin-1", &["admin"]), &app.admin).await;
    app.stop().await;
}
