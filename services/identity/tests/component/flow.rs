//! The authorization code flow with PKCE, end to end over HTTP, and what the tokens carry.

use flotilla_testkit::{Backend, client_with_token, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

async fn code_flow_with_pkce_refresh_rotation_and_reuse_detection(backend: Backend) {
    let app = identity(backend, &[]).await;
    let registered = register(&app, "Ada@Example.com", "correct horse battery").await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let ada: Value = registered.json().await.unwrap();
    assert_eq!((ada["email"].as_str(), ada["roles"][0].as_str()), (Some("ada@example.com"), Some("customer")));

    // A wrong verifier fails, and spends the code: the right one cannot follow it.
    let pkce_1 = pkce();
    let code = sign_in(&app, &pkce_1, "ada@example.com", "correct horse battery").await;
    let (status, body) = exchange(&app, &code, &pkce().verifier).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = exchange(&app, &code, &pkce_1.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The happy path: access, ID and refresh tokens.
    let pkce_2 = pkce();
    let code = sign_in(&app, &pkce_2, "ada@example.com", "correct horse battery").await;
    let (status, tokens) = exchange(&app, &code, &pkce_2.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "email offline_access openid");
    let access = tokens["access_token"].as_str().unwrap();
    let caller = verifier(&app).verify(access).await.unwrap();
    assert_eq!(caller.subject, ada["id"].as_str().unwrap());
    assert!(caller.has_role("customer") && !caller.has_role("admin"));
    assert_eq!(header(access)["typ"], "at+jwt");
    assert_eq!(header(access)["alg"], "ES256");
    let id_token = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!((id_token["aud"].as_str(), id_token["nonce"].as_str()), (Some("web"), Some("nonce-456")));
    assert_eq!(id_token["email"], "ada@example.com");
    assert!(id_token["at_hash"].is_string() && id_token["auth_time"].is_i64());

    // Userinfo, and a customer's own record but no one else's.
    let as_ada = client_with_token(access);
    let info: Value = as_ada.get(app.url("/oauth2/userinfo")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["email"], "ada@example.com");
    let own = as_ada.get(app.url(&format!("/api/v1/identity/users/{}", caller.subject))).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let grace: Value = register(&app, "grace@example.com", "another good password").await.json().await.unwrap();
    let other_url = app.url(&format!("/api/v1/identity/users/{}", grace["id"].as_str().unwrap()));
    assert_eq!(as_ada.get(&other_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(app.client.get(&other_url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Refresh rotates; the spent token used again revokes the whole family.
    let first_refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, rotated) = refresh(&app, first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let second_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first_refresh, second_refresh);
    assert_ne!(rotated["access_token"], tokens["access_token"]);
    let (status, reused) = refresh(&app, first_refresh).await;
    assert_eq!((status, reused["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = refresh(&app, second_refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the thief's copy and the user's are both dead");

    // A replayed code revokes what it was exchanged for.
    let pkce_3 = pkce();
    let code = sign_in(&app, &pkce_3, "ada@example.com", "correct horse battery").await;
    let (_, tokens) = exchange(&app, &code, &pkce_3.verifier).await;
    let (status, _) = exchange(&app, &code, &pkce_3.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Revocation ends a family; an access token cannot be revoked (it is short-lived instead).
    let pkce_4 = pkce();
    let code = sign_in(&app, &pkce_4, "ada@example.com", "correct horse battery").await;
    let (_, tokens) = exchange(&app, &code, &pkce_4.verifier).await;
    let revoke = |token: String| {
        let form = [("token", token), ("client_id", "web".to_owned())];
        app.client.post(app.url("/oauth2/revoke")).form(&form).send()
    };
    assert_eq!(revoke(tokens["refresh_token"].as_str().unwrap().into()).await.unwrap().status(), StatusCode::OK);
    let (status, _) = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(revoke("never-issued".into()).await.unwrap().status(), StatusCode::OK);
    let refused = revoke(tokens["access_token"].as_str().unwrap().into()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "unsupported_token_type");
}

async fn discovery_describes_the_provider(backend: Backend) {
    let app = identity(backend, &[]).await;
    let issuer = app.config().settings.auth.issuer.clone().unwrap();
    let doc: Value =
        app.client.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(doc["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(doc["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
    let jwks: Value = app.client.get(doc["jwks_uri"].as_str().unwrap()).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0]["kty"].as_str(), keys[0]["alg"].as_str()), (Some("EC"), Some("ES256")));
    assert!(keys[0].get("d").is_none(), "no private part is published");
}

on_both_backends!(
    code_flow_with_pkce_refresh_rotation_and_reuse_detection,
    discovery_describes_the_provider,
    a_refresh_token_spent_concurrently_is_spent_once,
);

#[tokio::test]
async fn expired_refresh_tokens_are_deleted() {
    use sqlx::Connection;
    let app = identity(Backend::Sqlite, &[("services.identity.refresh_token_ttl_s", serde_json::json!(1))]).await;
    register(&app, "brief@example.com", "a short-lived session").await;
    let pkce = pkce();
    let code = sign_in(&app, &pkce, "brief@example.com", "a short-lived session").await;
    let (_, tokens) = exchange(&app, &code, &pkce.verifier).await;
    let file = app.config().settings.data_dir.join("identity.db");
    let count = || async {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display())).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens").fetch_one(&mut db).await.unwrap();
        db.close().await.unwrap();
        n
    };
    assert_eq!(count().await, 1);
    // Until its stored expiry has passed, as the sweep compares it.
    let expires_at = {
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", file.display())).await.unwrap();
        let text: String =
            sqlx::query_scalar("SELECT expires_at FROM refresh_tokens").fetch_one(&mut db).await.unwrap();
        db.close().await.unwrap();
        flotilla_chassis::db::parse_timestamp(&text).unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while time::OffsetDateTime::now_utc() <= expires_at {
        assert!(std::time::Instant::now() < deadline, "the refresh token never expired: {expires_at}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The sweep runs in the background at start and every minute after.
    let app = app.restart().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count().await != 0 {
        assert!(std::time::Instant::now() < deadline, "the expired refresh token was never deleted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, body) = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

/// One refresh token spent by several requests at once: exactly one gets new tokens; the rest
/// are refused as reuse.
async fn a_refresh_token_spent_concurrently_is_spent_once(backend: Backend) {
    let app = identity(backend, &[]).await;
    assert_eq!(register(&app, "race@example.com", "correct horse battery").await.status(), StatusCode::CREATED);
    let pkce = pkce();
    let code = sign_in(&app, &pkce, "race@example.com", "correct horse battery").await;
    let (_, tokens) = exchange(&app, &code, &pkce.verifier).await;
    let token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let app = std::sync::Arc::new(app);
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let (app, token) = (std::sync::Arc::clone(&app), token.clone());
        racing.spawn(async move { refresh(&app, &token).await });
    }
    let answers = racing.join_all().await;
    let won = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    assert_eq!(won, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::OK) {
        assert_eq!((*status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    }
}
