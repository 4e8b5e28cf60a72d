//! Who may look at a payment: the customer whose order it is, and admins.

use flotilla_contracts::payments::PaymentAuthorizedV1;
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(only_the_customer_and_admins_see_a_payment);

async fn only_the_customer_and_admins_see_a_payment(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 1000)).await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    let url = world.app.url(&format!("/api/v1/payments/orders/{order}"));
    let as_user = |subject: &str| flotilla_testkit::client_with_token(&world.app.issuer.token(subject, &["customer"]));
    let own = as_user("customer-1").get(&url).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    expect_problem(as_user("customer-2").get(&url).send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(world.app.admin.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let anonymous = world.app.client.get(&url).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let unknown = world.app.admin.get(world.app.url(&format!("/api/v1/payments/orders/{}", Uuid::now_v7())));
    expect_problem(unknown.send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    let bad = world.app.admin.get(world.app.url("/api/v1/payments/orders/not-a-uuid")).send().await.unwrap();
    expect_problem(bad, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    world.stop().await;
}
