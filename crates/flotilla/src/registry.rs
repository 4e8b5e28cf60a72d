//! Every service this binary can run. Adding a bounded context means adding it here.

use flotilla_chassis::ServiceDefinition;

pub static SERVICES: &[&ServiceDefinition] =
    &[&flotilla_gateway::SERVICE, &flotilla_identity::SERVICE, &flotilla_catalog::SERVICE];

pub fn names() -> Vec<&'static str> {
    SERVICES.iter().map(|s| s.name).collect()
}

pub fn find(name: &str) -> Option<&'static ServiceDefinition> {
    SERVICES.iter().copied().find(|s| s.name == name)
}
