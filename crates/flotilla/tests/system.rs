//! The whole system as a person meets it: `flotilla run` with every service. Register, sign in
//! through the browser flow, call the catalog through the gateway with the session cookie, fill
//! a basket, check out and follow the order until it ships and the mail arrives, sign out; then
//! check that no password, token, code or cookie value was ever written to the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use flotilla_testkit::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CUSTOMER_PASSWORD: &str = "customer pass phrase 7f3a";
const ADMIN_PASSWORD: &str = "admin pass phrase 91c2";

use common::system::System;
use flotilla_identity::headless::hidden_fields;

/// The journey's settings: logs at debug, to catch any secret in them.
const SETTINGS: &str = r#"
[log]
format = "json"
level = "debug,sqlx=warn,hyper=info,reqwest=info,h2=info,lettre=info"

[services.identity]
admin.email = "admin@flotilla.test"

# A carrier in a hurry, so that the order ships within the test.
[services.shipping.carrier]
dispatch_after_ms = 300
step_ms = 200
"#;

/// A browser: no automatic redirects, cookies kept per host:port by hand.
struct Browser {
    http: reqwest::Client,
    cookies: HashMap<String, HashMap<String, String>>,
}

impl Browser {
    fn new() -> Self {
        let http = flotilla_chassis::outbound::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: HashMap::new() }
    }

    fn host(url: &str) -> String {
        let url = url::Url::parse(url).unwrap();
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
    }

    fn cookie_header(&self, url: &str) -> String {
        self.cookies
            .get(&Self::host(url))
            .map(|jar| jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
            .unwrap_or_default()
    }

    fn keep(&mut self, url: &str, response: &reqwest::Response) {
        let jar = self.cookies.entry(Self::host(url)).or_default();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, url: &str) -> reqwest::Response {
        let response = request.header("cookie", self.cookie_header(url)).send().await.unwrap();
        self.keep(url, &response);
        response
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let request = self.http.get(url);
        self.send(request, url).await
    }

    fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.cookies.get(&Self::host(url))?.get(name).cloned()
    }
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "expected a redirect");
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The browser flow through the gateway; returns the values a log must never contain.
async fn sign_in(browser: &mut Browser, gateway: &str, email: &str, password: &str) -> Vec<String> {
    let login = browser.get(&format!("{gateway}/auth/login?return_to=/shop")).await;
    let authorize = location(&login);
    let page = browser.get(&authorize).await;
    assert_eq!(page.status(), StatusCode::OK);
    let mut form = hidden_fields(&page.text().await.unwrap());
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    let action = format!("{}/oauth2/authorize", authorize.split("/oauth2/").next().unwrap());
    let request = browser.http.post(&action).form(&form);
    let signed_in = browser.send(request, &action).await;
    let callback = location(&signed_in);
    assert!(callback.starts_with(&format!("{gateway}/auth/callback?")), "{callback}");
    let code = url::Url::parse(&callback).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let back = browser.get(&callback).await;
    assert_eq!(location(&back), "/shop");
    let session = browser.cookie(gateway, "flotilla_session").expect("a session cookie");
    let csrf = form.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    vec![code, session, csrf, password.to_owned()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_signs_in_and_shops_through_the_gateway_and_no_secret_reaches_the_logs() {
    a_person_shops(Backend::Sqlite).await;
}

/// The same journey with every service on its own PostgreSQL database and the bus on NATS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_journey_on_postgres_and_nats() {
    a_person_shops(Backend::Postgres).await;
}

async fn a_person_shops(backend: Backend) {
    let mut system = System::new(backend).await;
    system.start(SETTINGS).await;
    let ports = &system.ports;
    let gateway = system.gateway("");
    let http = system.http.clone();

    // The gateway's API description holds every service behind it.
    let document: Value = http.get(format!("{gateway}/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(!document["info"]["description"].as_str().unwrap().contains("Not included"), "{}", document["info"]);
    let paths = document["paths"].as_object().unwrap();
    // The gateway is the document's author, and the simulator stands in for an outside system.
    for service in common::services().iter().filter(|name| !matches!(name.as_str(), "gateway" | "payment-provider")) {
        let prefix = format!("/api/v1/{service}/");
        assert!(paths.keys().any(|path| path.starts_with(&prefix)), "the combined document lacks {service}");
    }

    // Register through the gateway, then sign in in the browser.
    let registered = http
        .post(format!("{gateway}/api/v1/identity/users"))
        .json(&json!({"email": "shopper@example.com", "password": CUSTOMER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let mut browser = Browser::new();
    let mut secrets = sign_in(&mut browser, &gateway, "shopper@example.com", CUSTOMER_PASSWORD).await;

    let session: Value = browser.get(&format!("{gateway}/auth/session")).await.json().await.unwrap();
    assert_eq!(session["roles"], json!(["customer"]));
    assert!(session.get("access_token").is_none(), "tokens never reach the browser");
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    secrets.push(csrf.clone());
    let me = browser.get(&format!("{gateway}/api/v1/identity/users/{}", session["subject"].as_str().unwrap())).await;
    assert_eq!(me.status(), StatusCode::OK, "the session's token reaches identity");
    let products = browser.get(&format!("{gateway}/api/v1/catalog/products?limit=2")).await;
    assert_eq!(products.status(), StatusCode::OK);

    // A state change with the cookie needs the CSRF token; with it, the catalog decides (403: not an admin).
    let product = json!({"sku": "SYS-0001", "name": "System test kettle", "price": {"amount_minor": 1999, "currency": "EUR"}, "category": "kitchen"});
    let url = format!("{gateway}/api/v1/catalog/products");
    let request = browser.http.post(&url).json(&product);
    let no_csrf = browser.send(request, &url).await;
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    let request = browser.http.post(&url).header("x-csrf-token", &csrf).json(&product);
    let as_customer = browser.send(request, &url).await;
    assert_eq!(as_customer.status(), StatusCode::FORBIDDEN);
    assert!(as_customer.text().await.unwrap().contains("admin"));

    // A token for a tool, from the command line, with the password on standard input.
    let (ok, token) =
        system.cli_with_input(&["token", "--email", "admin@flotilla.test"], &format!("{ADMIN_PASSWORD}\n"));
    assert!(ok, "{token}");
    let token = token.trim().to_owned();
    let stock = http.get(format!("{gateway}/api/v1/inventory/stock")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(stock.status(), StatusCode::OK, "the printed token is an administrator's");
    secrets.push(token);
    let (ok, refused) = system.cli_with_input(&["token", "--email", "admin@flotilla.test"], "not the password\n");
    assert!(!ok && refused.contains("was not signed in"), "{refused}");

    // The configured administrator may.
    let mut admin = Browser::new();
    secrets.extend(sign_in(&mut admin, &gateway, "admin@flotilla.test", ADMIN_PASSWORD).await);
    let admin_session: Value = admin.get(&format!("{gateway}/auth/session")).await.json().await.unwrap();
    secrets.push(admin_session["csrf_token"].as_str().unwrap().to_owned());
    let admin_csrf = admin_session["csrf_token"].as_str().unwrap().to_owned();
    let request = admin.http.post(&url).header("x-csrf-token", &admin_csrf).json(&product);
    let created = admin.send(request, &url).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());

    // Shop: two of a product into the basket, check out, and follow the order to the carrier.
    let subject = session["subject"].as_str().unwrap().to_owned();
    let order = buy(&mut browser, &gateway, &subject, &csrf).await;
    assert_eq!(order["status"], "shipped", "{order}");
    let steps: Vec<&str> =
        order["timeline"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["pending", "stock_reserved", "payment_authorized", "payment_authorized", "confirmed", "shipped"]
    );
    let order_id = order["order_id"].as_str().unwrap();
    let payment = admin_get(&mut admin, &gateway, &format!("/api/v1/payments/orders/{order_id}")).await;
    assert_eq!(
        (payment["state"].as_str(), payment["captured"]["amount_minor"].as_i64()),
        (Some("captured"), order["total"]["amount_minor"].as_i64())
    );
    let sku = order["lines"][0]["sku"].as_str().unwrap();
    let stock = admin_get(&mut admin, &gateway, "/api/v1/inventory/stock?limit=200").await;
    let item = stock["items"].as_array().unwrap().iter().find(|i| i["sku"] == sku).unwrap();
    assert_eq!((item["committed"].as_i64(), item["reserved"].as_i64()), (Some(2), Some(0)), "{item}");
    let basket =
        browser.get(&format!("{gateway}/api/v1/basket/baskets/{subject}")).await.json::<Value>().await.unwrap();
    assert_eq!(basket["lines"], json!([]), "the order's lines left the basket");
    let mail = wait_for_mail(&mut admin, &gateway, order_id, 2).await;
    assert!(mail.iter().all(|m| m["to"].to_string().contains("shopper@example.com")), "{mail:?}");

    // Signing in again ends the browser's earlier session: a copy of the old cookie stops working.
    let earlier = browser.cookie(&gateway, "flotilla_session").unwrap();
    secrets.push(earlier.clone());
    secrets.extend(sign_in(&mut browser, &gateway, "shopper@example.com", CUSTOMER_PASSWORD).await);
    let copied = http.get(format!("{gateway}/auth/session")).header("cookie", format!("flotilla_session={earlier}"));
    assert_eq!(copied.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "the earlier session ended");
    let session: Value = browser.get(&format!("{gateway}/auth/session")).await.json().await.unwrap();
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    secrets.push(csrf.clone());

    // Sign out: the session is gone.
    let logout_url = format!("{gateway}/auth/logout");
    let request = browser.http.post(&logout_url).header("x-csrf-token", &csrf);
    assert_eq!(browser.send(request, &logout_url).await.status(), StatusCode::NO_CONTENT);
    let after = browser.get(&format!("{gateway}/auth/session")).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // An API client's tokens, straight from identity with PKCE, used through the gateway and refreshed.
    let tokens = system.tokens("shopper@example.com", CUSTOMER_PASSWORD, "openid email offline_access").await;
    let bearer = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let with_token = http.get(&url).bearer_auth(bearer).send().await.unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    let refreshed: Value = http
        .post(format!("http://127.0.0.1:{}/oauth2/token", ports.of("identity")))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", "gateway")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    secrets.extend(
        [bearer, refresh, refreshed["access_token"].as_str().unwrap(), refreshed["refresh_token"].as_str().unwrap()]
            .map(str::to_owned),
    );
    secrets.push(tokens["id_token"].as_str().unwrap().to_owned());

    let ports_gone = ports.of("gateway");
    system.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", ports_gone)).is_err(), "stopped");
    let log = std::fs::read_to_string(system.log()).unwrap();
    assert!(log.contains("signed in") && log.contains("browser session started"), "the log was written");
    if backend == Backend::Postgres {
        let catalog = format!("PostgreSQL database {}catalog", system.database_prefix());
        assert!(log.contains(&catalog), "the catalog ran on PostgreSQL");
        assert!(log.contains("NATS connection event"), "the bus was NATS");
    }
    for secret in &secrets {
        // Long values are checked whole; each also by a distinctive slice, in case a log cut it.
        assert!(!log.contains(secret.as_str()), "a secret reached the log: {}...", &secret[..6.min(secret.len())]);
        if secret.len() > 24 {
            assert!(!log.contains(&secret[8..24]), "part of a secret reached the log");
        }
    }
    assert!(!log.contains(ADMIN_PASSWORD) && !log.contains(CUSTOMER_PASSWORD));
}

/// Puts two of the catalogue's first product in the basket and checks out with the session
/// cookie; returns the order once the carrier has it.
async fn buy(browser: &mut Browser, gateway: &str, subject: &str, csrf: &str) -> Value {
    let products: Value =
        browser.get(&format!("{gateway}/api/v1/catalog/products?limit=1")).await.json().await.unwrap();
    let product_id = products["items"][0]["id"].as_str().unwrap().to_owned();
    let items = format!("{gateway}/api/v1/basket/baskets/{subject}/items");
    // The basket learns of products from the catalog's events: it may not know this one yet.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request = browser
            .http
            .post(&items)
            .header("x-csrf-token", csrf)
            .json(&json!({"product_id": product_id, "quantity": 2}));
        let added = browser.send(request, &items).await;
        if added.status() == StatusCode::OK {
            break;
        }
        assert_eq!(added.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", added.text().await.unwrap());
        assert!(Instant::now() < deadline, "the basket never learnt of the product");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let orders = format!("{gateway}/api/v1/ordering/orders");
    let checkout = json!({
        "ship_to": {"name": "Sam Shopper", "line1": "1 High Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
        "contact_email": "shopper@example.com",
        "payment_method": "4242 4242 4242 4242",
    });
    let request = browser
        .http
        .post(&orders)
        .header("x-csrf-token", csrf)
        .header("idempotency-key", "first-order")
        .json(&checkout);
    let accepted = browser.send(request, &orders).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED, "{}", accepted.text().await.unwrap());
    let url = format!("{gateway}{}", accepted.headers()["location"].to_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let order: Value = browser.get(&url).await.json().await.unwrap();
        if order["status"] == "shipped" || order["status"] == "rejected" {
            return order;
        }
        assert!(Instant::now() < deadline, "the order did not ship within a minute: {order}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn admin_get(admin: &mut Browser, gateway: &str, path: &str) -> Value {
    let response = admin.get(&format!("{gateway}{path}")).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// The mails the development sink received about the order, once there are `count`.
async fn wait_for_mail(admin: &mut Browser, gateway: &str, order_id: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = admin_get(admin, gateway, "/api/v1/notifications/sink/messages").await;
        let about: Vec<Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["body"].as_str().unwrap_or_default().contains(order_id))
            .cloned()
            .collect();
        if about.len() >= count {
            return about;
        }
        assert!(Instant::now() < deadline, "{} of {count} mails about the order: {all}", about.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
