//! `flotilla token`: an access token for a person, from the configured identity service, for
//! curl, API clients and the conformance runs. The password comes from standard input or
//! `FLOTILLA_PASSWORD`, never from an argument that shell history and `ps` would keep.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use flotilla_chassis::config::{Config, Environment};
use flotilla_identity::headless::{self, SignIn};

use crate::registry;

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Whose token: the account's email.
    #[arg(long)]
    email: String,
    /// The scopes to ask for.
    #[arg(long, default_value = "openid")]
    scope: String,
    /// The client to sign in through (one whose redirect URI is the gateway's callback).
    #[arg(long, default_value = "gateway")]
    client_id: String,
}

pub async fn run(env: Option<Environment>, config_dir: &Path, args: TokenArgs) -> anyhow::Result<()> {
    let config = Config::load(env, config_dir)?.resolve_addresses(registry::SERVICES)?;
    let identity = config.settings.auth.issuer()?.to_owned();
    let public_url = config.settings.public_url.clone().context("public_url: not set")?;
    let password = password()?;
    let redirect_uri = format!("{}/auth/callback", public_url.trim_end_matches('/'));
    let request = SignIn {
        identity: &identity,
        client_id: &args.client_id,
        redirect_uri: &redirect_uri,
        scope: &args.scope,
        email: &args.email,
        password: &password,
    };
    let http = flotilla_chassis::outbound::client(std::time::Duration::from_secs(10))?;
    let tokens = headless::sign_in(&http, request).await.map_err(|why| anyhow::anyhow!("{why}"))?;
    let token = tokens["access_token"].as_str().context("the token response holds no access token")?;
    say!("{token}");
    Ok(())
}

fn password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("FLOTILLA_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password: send it on standard input or set FLOTILLA_PASSWORD");
    Ok(password)
}
