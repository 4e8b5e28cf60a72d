use super::*;

#[test]
fn defaults_are_valid_and_embedded() {
    let config = Config::defaults().expect("defaults load");
    assert_eq!(config.settings.env, Environment::Dev);
    assert_eq!(config.settings.database.backend, DatabaseBackend::Sqlite);
    assert_eq!(config.settings.http.request_timeout_ms, 10_000);
}

#[test]
fn a_later_layer_overrides_an_earlier_one() {
    let config = Config::defaults().unwrap().set("http.drain_delay_ms", 250).unwrap();
    assert_eq!(config.settings.http.drain_delay_ms, 250);
}

#[test]
fn a_wrong_type_names_the_key() {
    let error = Config::defaults().unwrap().set("http.request_timeout_ms", "soon").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("request_timeout_ms"), "{message}");
    assert!(message.contains("soon"), "{message}");
}

#[test]
fn an_unknown_key_is_rejected() {
    let error = Config::defaults().unwrap().set("http.request_timeout", 5).unwrap_err();
    assert!(error.to_string().contains("request_timeout"), "{error}");
}

#[test]
fn zero_limits_are_rejected_with_the_key() {
    let error = Config::defaults().unwrap().set("http.concurrency_limit", 0).unwrap_err();
    assert!(error.to_string().contains("http.concurrency_limit"), "{error}");
}

#[test]
fn postgres_requires_a_url() {
    let error = Config::defaults().unwrap().set("database.backend", "postgres").unwrap_err();
    assert!(error.to_string().contains("database.url"), "{error}");
}

#[test]
fn the_database_url_never_prints() {
    let config = Config::defaults()
        .unwrap()
        .set("database.url", "postgres://app:hunter2@db:5432")
        .unwrap()
        .set("database.backend", "postgres")
        .unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
}

#[test]
fn an_environment_file_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("staging.toml"), "[http]\ndrain_delay_ms = 4000\n").unwrap();
    let config = Config::load(Some(Environment::Staging), dir.path()).unwrap();
    assert_eq!(config.settings.env, Environment::Staging);
    assert_eq!(config.settings.http.drain_delay_ms, 4000);
}

#[test]
fn a_service_section_falls_back_to_defaults() {
    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    struct Section {
        seed: Option<bool>,
    }
    let config = Config::defaults().unwrap();
    assert_eq!(config.service::<Section>("catalog").unwrap(), Section::default());
    assert_eq!(config.service_port("catalog", 8082).unwrap(), 8082);
    let config = config.set("services.catalog.port", 9000).unwrap().set("services.catalog.seed", true).unwrap();
    assert_eq!(config.service_port("catalog", 8082).unwrap(), 9000);
    assert_eq!(config.service::<Section>("catalog").unwrap().seed, Some(true));
}

#[test]
fn unknown_environment_is_a_clear_error() {
    let error = "production".parse::<Environment>().unwrap_err();
    assert!(error.to_string().contains("dev, staging, prod"), "{error}");
}

#[test]
fn a_variable_names_a_service_with_underscores_for_its_dashes() {
    assert_eq!(env_key("SERVICES__PAYMENT_PROVIDER__API_KEY"), "services.payment-provider.api_key");
    assert_eq!(env_key("SERVICES__PAYMENT-PROVIDER__PORT"), "services.payment-provider.port");
    assert_eq!(env_key("SERVICES__CATALOG__SEED"), "services.catalog.seed");
    assert_eq!(env_key("HTTP__REQUEST_TIMEOUT_MS"), "http.request_timeout_ms");
    assert_eq!(env_key("DATA_DIR"), "data_dir");
}

#[test]
fn only_known_roots_are_read_from_the_environment() {
    assert!(is_config_key("env"));
    assert!(is_config_key("data_dir"));
    assert!(is_config_key("http__request_timeout_ms"));
    assert!(is_config_key("services__catalog__port"));
    assert!(is_config_key("traces__otlp_endpoint"));
    assert!(is_config_key("SERVICES__CATALOG__PORT"), "variables arrive upper case");
    assert!(is_config_key("http__portt"), "typos below a root must still reach validation");
    assert!(is_config_key("http_request_timeout_ms"), "a missing underscore must reach validation too");
    assert!(!is_config_key("catalog_port"));
    assert!(!is_config_key("CATALOG_SERVICE_HOST"));
    assert!(!is_config_key("catalog_service_host"));
    assert!(!is_config_key("git_commit"));
    assert!(!is_config_key("https"));
}

#[test]
fn a_missing_environment_file_outside_dev_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = Config::load(Some(Environment::Prod), dir.path()).unwrap_err();
    assert!(error.to_string().contains("prod.toml"), "{error}");
    assert!(Config::load(Some(Environment::Dev), dir.path()).is_ok(), "dev runs on defaults alone");
}

#[test]
fn a_service_section_hides_the_chassis_keys_and_names_its_own_mistakes() {
    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Section {
        seed: Option<bool>,
    }
    let config = Config::defaults()
        .unwrap()
        .set("services.catalog.port", 9000)
        .unwrap()
        .set("services.catalog.url", "http://catalog:9000")
        .unwrap()
        .set("services.catalog.seed", true)
        .unwrap();
    assert_eq!(config.service::<Section>("catalog").unwrap().seed, Some(true), "port and url are the chassis'");
    let typo = config.set("services.catalog.sed", true).unwrap();
    let error = typo.service::<Section>("catalog").unwrap_err().to_string();
    assert!(error.contains("services.catalog.sed"), "{error}");
    let wrong = config.set("services.catalog.seed", "yes please").unwrap();
    let error = wrong.service::<Section>("catalog").unwrap_err().to_string();
    assert!(error.contains("services.catalog.seed"), "{error}");
}

#[test]
fn trace_settings_are_checked_with_their_keys() {
    let defaults = Config::defaults().unwrap();
    assert!(!defaults.settings.traces.exporting(), "nothing is exported unless an endpoint is set");
    for (key, value, named) in [
        ("traces.sample_ratio", serde_json::json!(1.5), "traces.sample_ratio"),
        ("traces.sample_ratio", serde_json::json!(-0.1), "traces.sample_ratio"),
        ("traces.otlp_endpoint", serde_json::json!("collector:4318"), "traces.otlp_endpoint"),
        ("traces.otlp_endpoint", serde_json::json!("ftp://collector/v1/traces"), "traces.otlp_endpoint"),
        ("traces.export_queue", serde_json::json!(0), "traces.export_queue"),
        ("traces.export_batch", serde_json::json!(100_000), "traces.export_batch"),
    ] {
        let error = defaults.clone().set(key, value.clone()).unwrap_err();
        assert!(error.to_string().contains(named), "{key} = {value}: {error}");
    }
    let exporting = defaults.set("traces.otlp_endpoint", "http://127.0.0.1:4318/v1/traces").unwrap();
    assert!(exporting.settings.traces.exporting());
}

#[test]
fn staging_and_prod_export_traces() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for env in ["staging", "prod"] {
        let file = figment::Figment::from(figment::providers::Toml::file(dir.join(format!("{env}.toml"))));
        let endpoint: String = file.extract_inner("traces.otlp_endpoint").unwrap_or_default();
        let config = Config::defaults().unwrap().set("traces.otlp_endpoint", &endpoint).unwrap();
        assert!(config.settings.traces.exporting(), "{env} exports traces");
    }
}
