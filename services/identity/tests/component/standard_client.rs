//! A standard OpenID Connect client library, Authlib, uses the provider without special cases
//! (`tests/standard_client.py`). Needs python3 with `authlib` and `requests`
//! (`pip install authlib requests`; `.ci/run` installs them): without them this test fails.

use flotilla_testkit::Backend;

use crate::support::*;

#[tokio::test]
async fn authlib_signs_in_validates_the_id_token_and_refreshes() {
    let app = identity(Backend::Sqlite, &[]).await;
    assert_eq!(register(&app, "lib@example.com", "a password for authlib").await.status(), 201);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/standard_client.py");
    let issuer = app.config().settings.auth.issuer.clone().unwrap();
    // Off the runtime's thread: the provider answers the script from this runtime.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &issuer, "web", WEB_REDIRECT, "lib@example.com", "a password for authlib"])
            .output()
            .expect("python3 is required by this test")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "Authlib could not use the provider: {stdout}{stderr}");
    assert!(stdout.starts_with("ok:"), "{stdout}");
}
