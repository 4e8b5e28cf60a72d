//! The committed contract documents are what the code generates, and every committed example of a
//! message still decodes: the checks that make a breaking change fail CI unless it is a new major.
//! `UPDATE_CONTRACTS=1 cargo test -p flotilla-contracts` rewrites the generated files (never the
//! examples, which are history).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flotilla_contracts::{MessageInfo, MessageKind, asyncapi, registry};

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/events")
}

fn pretty(value: &serde_json::Value) -> String {
    format!("{}\n", serde_json::to_string_pretty(value).unwrap())
}

fn check_committed(path: &Path, generated: &str) {
    if std::env::var_os("UPDATE_CONTRACTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from what crates/contracts generates; review the change, then run \
         `UPDATE_CONTRACTS=1 cargo test -p flotilla-contracts` and commit the result",
        path.display()
    );
}

#[test]
fn message_types_follow_the_naming_rule() {
    let mut seen = BTreeSet::new();
    for info in registry() {
        let parts: Vec<&str> = info.message_type.split('.').collect();
        assert_eq!(parts.len(), 4, "{}: expected flotilla.<context>.<name>.v<major>", info.message_type);
        assert_eq!(parts[0], "flotilla");
        let kebab = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        assert!(kebab(parts[1]) && kebab(parts[2]), "{}: context and name are kebab-case", info.message_type);
        let major = parts[3].strip_prefix('v').and_then(|v| v.parse::<u32>().ok());
        assert!(major.is_some_and(|m| m >= 1), "{}: the last segment is v<major>", info.message_type);
        assert_eq!(info.owner, info.context(), "{}: the owner is the type's context", info.message_type);
        match info.kind {
            MessageKind::Event | MessageKind::Reply => assert_eq!(
                info.senders,
                [info.owner],
                "{}: events and replies are sent by their owner only",
                info.message_type
            ),
            MessageKind::Command => assert!(
                info.receivers.iter().all(|r| r.split('.').next() == Some(info.owner)),
                "{}: a command is received by its owner only",
                info.message_type
            ),
            MessageKind::Timer => panic!("{}: timers are private to a service", info.message_type),
        }
        if let Some(command) = info.answers {
            assert!(
                flotilla_contracts::find(command).is_some_and(|c| c.kind == MessageKind::Command),
                "{}: answers {command}, which is not a registered command",
                info.message_type
            );
        }
        assert!(seen.insert(info.message_type), "{} is registered twice", info.message_type);
    }
}

#[test]
fn committed_json_schemas_match_the_types() {
    let dir = docs().join("schemas");
    let mut expected = BTreeSet::new();
    for info in registry() {
        let file = format!("{}.json", info.message_type);
        check_committed(&dir.join(&file), &pretty(&info.schema));
        expected.insert(file);
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(present, expected, "docs/events/schemas holds a schema for a message that no longer exists");
}

#[test]
fn committed_asyncapi_document_matches_the_types() {
    let messages = registry();
    let mut document = asyncapi::document(&messages);
    let examples: Vec<(&str, Vec<(String, serde_json::Value)>)> = messages
        .iter()
        .map(|info| {
            let named = examples_of(info)
                .into_iter()
                .map(|(path, payload)| (path.file_stem().unwrap().to_string_lossy().into_owned(), payload))
                .collect();
            (info.message_type, named)
        })
        .collect();
    asyncapi::add_examples(&mut document, &examples);
    assert_eq!(document["asyncapi"], "3.0.0");
    check_committed(&docs().join("asyncapi.json"), &pretty(&document));
}

/// Examples are never edited or removed: each is a payload some producer once sent. A change that
/// makes one undecodable (a field removed, renamed, retyped or newly required) is breaking.
#[test]
fn every_committed_example_still_decodes() {
    for info in registry() {
        let examples = examples_of(&info);
        assert!(
            !examples.is_empty(),
            "{} has no example under docs/events/examples/{}/",
            info.message_type,
            info.message_type
        );
        for (path, payload) in examples {
            if let Err(error) = (info.decode)(payload) {
                panic!(
                    "{} no longer accepts {}: {error}; a breaking change needs a new major type",
                    info.message_type,
                    path.display()
                );
            }
        }
    }
}

fn examples_of(info: &MessageInfo) -> Vec<(PathBuf, serde_json::Value)> {
    let dir = docs().join("examples").join(info.message_type);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let payload = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            (path, payload)
        })
        .collect()
}

#[test]
fn the_decode_check_rejects_what_a_consumer_could_not_use() {
    let info = flotilla_contracts::find("flotilla.catalog.product-price-changed.v1").unwrap();
    let missing = serde_json::json!({"product_id": "0190f3a0-0000-7000-8000-000000000001", "version": 2});
    assert!((info.decode)(missing).is_err());
    let retyped = serde_json::json!({
        "product_id": "0190f3a0-0000-7000-8000-000000000001", "version": "2",
        "previous_price": {"amount_minor": 100, "currency": "EUR"}, "price": {"amount_minor": 90, "currency": "EUR"}
    });
    assert!((info.decode)(retyped).is_err());
}
