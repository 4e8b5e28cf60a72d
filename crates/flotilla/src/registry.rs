//! Every service this binary can run. Adding a bounded context means adding it here.

use flotilla_chassis::ServiceDefinition;

pub static SERVICES: &[&ServiceDefinition] = &[
    &flotilla_gateway::SERVICE,
    &flotilla_identity::SERVICE,
    &flotilla_catalog::SERVICE,
    &flotilla_inventory::SERVICE,
    &flotilla_basket::SERVICE,
    &flotilla_payment_provider::SERVICE,
    &flotilla_payments::SERVICE,
    &flotilla_ordering::SERVICE,
    &flotilla_shipping::SERVICE,
    &flotilla_notifications::SERVICE,
];

pub fn names() -> Vec<&'static str> {
    SERVICES.iter().map(|s| s.name).collect()
}

pub fn find(name: &str) -> Option<&'static ServiceDefinition> {
    SERVICES.iter().copied().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use flotilla_chassis::Config;
    use flotilla_gateway::settings::GatewaySettings;

    use super::*;

    #[test]
    fn every_service_with_a_public_api_has_a_gateway_route_at_its_address() {
        let config = Config::defaults().unwrap().set("services.catalog.port", 9082).unwrap();
        let config = config.resolve_addresses(SERVICES).unwrap();
        let routes = GatewaySettings::default().routes(&config.directory()).unwrap();
        for service in SERVICES.iter().filter(|s| s.public_api) {
            let route = routes.iter().find(|r| r.name == service.name);
            let url = config.service_url(service.name).unwrap();
            assert_eq!(route.map(|r| r.url.as_str()), Some(url.as_str()), "{} is not routed", service.name);
        }
        assert_eq!(config.service_url("catalog").unwrap(), "http://127.0.0.1:9082", "one variable moves a service");
        assert_eq!(config.settings.auth.issuer, config.service_url("identity"));
        assert_eq!(config.settings.public_url, config.service_url("gateway"));
    }

    #[test]
    fn set_urls_win_over_derived_ones() {
        let config = Config::defaults()
            .unwrap()
            .set("services.catalog.url", "http://catalog.flotilla.svc:8082")
            .unwrap()
            .set("public_url", "https://shop.example")
            .unwrap()
            .resolve_addresses(SERVICES)
            .unwrap();
        let routes = GatewaySettings::default().routes(&config.directory()).unwrap();
        let catalog = routes.iter().find(|r| r.name == "catalog").unwrap();
        assert_eq!(catalog.url, "http://catalog.flotilla.svc:8082");
        assert_eq!(config.settings.public_url.as_deref(), Some("https://shop.example"));
        let bad = Config::defaults().unwrap().set("services.catalog.url", "http://catalog/api").unwrap();
        let error = bad.resolve_addresses(SERVICES).unwrap_err().to_string();
        assert!(error.contains("services.catalog.url") && error.contains("no path"), "{error}");
    }
}
