//! `flotilla new service <name> --port <n>`: a bounded context with every practice wired in
//! (configuration section, health, metrics, migrations, outbox, inbox and timers, an example
//! command with its reply and an event, its OpenAPI document with the drift test, component tests
//! on both backends with the token matrix and bad input), registered in the workspace, the binary
//! and the published language. The gateway routes it because it has a public API.
//!
//! Everything is checked before anything is written, so a refusal leaves the tree as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::registry;

/// What the generator writes, relative to the new service's folder (the last one to the
/// contracts crate), with the templates it fills in.
const SERVICE_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("templates/Cargo.toml.tmpl")),
    ("src/lib.rs", include_str!("templates/src/lib.rs.tmpl")),
    ("src/api.rs", include_str!("templates/src/api.rs.tmpl")),
    ("src/consumers.rs", include_str!("templates/src/consumers.rs.tmpl")),
    ("src/events.rs", include_str!("templates/src/events.rs.tmpl")),
    ("src/store.rs", include_str!("templates/src/store.rs.tmpl")),
    ("src/domain/mod.rs", include_str!("templates/src/domain/mod.rs.tmpl")),
    ("src/domain/note.rs", include_str!("templates/src/domain/note.rs.tmpl")),
    ("migrations/0001_notes.sql", include_str!("templates/migrations/0001_notes.sql.tmpl")),
    ("tests/component/main.rs", include_str!("templates/tests/component/main.rs.tmpl")),
    ("tests/component/support.rs", include_str!("templates/tests/component/support.rs.tmpl")),
    ("tests/component/notes.rs", include_str!("templates/tests/component/notes.rs.tmpl")),
    ("tests/component/messages.rs", include_str!("templates/tests/component/messages.rs.tmpl")),
    ("tests/component/bad_input.rs", include_str!("templates/tests/component/bad_input.rs.tmpl")),
    ("tests/component/contract.rs", include_str!("templates/tests/component/contract.rs.tmpl")),
];
const CONTRACTS_MODULE: &str = include_str!("templates/contracts/module.rs.tmpl");

/// One example payload per message, for the contract checks (`docs/events/examples/`).
const EXAMPLES: &[(&str, &str)] = &[
    (
        "note-created",
        r#"{"note_id": "0190f3a0-0000-7000-8000-0000000000a1", "text": "Remember the milk", "author": "ordering"}"#,
    ),
    ("record-note", r#"{"note_id": "0190f3a0-0000-7000-8000-0000000000a1", "text": "Remember the milk"}"#),
    ("note-recorded", r#"{"note_id": "0190f3a0-0000-7000-8000-0000000000a1"}"#),
];

#[derive(Debug, clap::Subcommand)]
pub enum NewCommand {
    /// A new bounded context under services/<name>, wired and registered
    Service {
        /// The context's name: lower case letters and digits, words joined by `-`
        name: String,
        /// Its default port
        #[arg(long)]
        port: u16,
        /// The workspace to add it to
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
    },
}

pub fn run(command: NewCommand) -> anyhow::Result<()> {
    let NewCommand::Service { name, port, workspace } = command;
    let plan = Plan::new(&name, port, &workspace)?;
    plan.write()?;
    say!(
        "Created services/{name} (flotilla-{name}, port {port}), its messages in crates/contracts/src/{}.rs,",
        plan.module
    );
    say!("and registered it in Cargo.toml, crates/flotilla and the contracts registry. Next:");
    say!(
        "  UPDATE_CONTRACTS=1 cargo test -p flotilla-contracts -p flotilla-{name}   # writes its OpenAPI and event documents"
    );
    say!("  scripts/test");
    Ok(())
}

/// Everything the generator will write (new files, then the edited registrations), computed and
/// checked first.
struct Plan {
    root: PathBuf,
    module: String,
    files: Vec<(PathBuf, String)>,
}

impl Plan {
    fn new(name: &str, port: u16, root: &Path) -> anyhow::Result<Self> {
        check_name(name)?;
        if port < 1024 {
            bail!("--port {port}: choose a port from 1024 up (below needs privileges)");
        }
        if let Some(taken) = registry::SERVICES.iter().find(|s| s.name == name) {
            bail!("a service named `{}` is already registered", taken.name);
        }
        if let Some(taken) = registry::SERVICES.iter().find(|s| s.default_port == port) {
            bail!("--port {port} is {}'s default port; choose another", taken.name);
        }
        let manifest = read(root, "Cargo.toml")?;
        if !manifest.contains("[workspace]") {
            bail!(
                "{} is not the Flotilla workspace (no [workspace] in its Cargo.toml); see --workspace",
                root.display()
            );
        }
        let service_dir = root.join("services").join(name);
        if service_dir.exists() {
            bail!("{} exists already", service_dir.display());
        }
        let module = name.replace('-', "_");
        let fill = |template: &str| {
            template.replace("{{name}}", name).replace("{{module}}", &module).replace("{{port}}", &port.to_string())
        };
        let mut files: Vec<(PathBuf, String)> =
            SERVICE_FILES.iter().map(|(path, template)| (service_dir.join(path), fill(template))).collect();
        files.push((root.join(format!("crates/contracts/src/{module}.rs")), fill(CONTRACTS_MODULE)));
        for (message, example) in EXAMPLES {
            let dir = format!("docs/events/examples/flotilla.{name}.{message}.v1");
            files.push((root.join(dir).join("first.json"), format!("{example}\n")));
        }
        let mut edits = Vec::new();
        edits.push((
            root.join("Cargo.toml"),
            insert_after_last(
                &manifest,
                Some("[workspace.dependencies]"),
                "flotilla-",
                "{ path = \"services/",
                &format!("flotilla-{name} = {{ path = \"services/{name}\" }}"),
            )
            .context("Cargo.toml: no flotilla-<service> entry under [workspace.dependencies] to add one after")?,
        ));
        let binary = read(root, "crates/flotilla/Cargo.toml")?;
        edits.push((
            root.join("crates/flotilla/Cargo.toml"),
            insert_after_last(
                &binary,
                Some("[dependencies]"),
                "flotilla-",
                ".workspace = true",
                &format!("flotilla-{name}.workspace = true"),
            )
            .context("crates/flotilla/Cargo.toml: no flotilla-* dependency to add one after")?,
        ));
        let services = read(root, "crates/flotilla/src/registry.rs")?;
        edits.push((
            root.join("crates/flotilla/src/registry.rs"),
            append_to_list(
                &services,
                "pub static SERVICES: &[&ServiceDefinition] =",
                &format!("&flotilla_{module}::SERVICE"),
            )
            .context("crates/flotilla/src/registry.rs: the SERVICES list is not where it was expected")?,
        ));
        let contracts = read(root, "crates/contracts/src/lib.rs")?;
        let contracts = insert_after_last(&contracts, None, "pub mod ", ";", &format!("pub mod {module};"))
            .and_then(|text| {
                append_to_list(&text, "const CONTEXTS: &[&[fn() -> MessageInfo]] =", &format!("{module}::MESSAGES"))
            })
            .context("crates/contracts/src/lib.rs: the module list or CONTEXTS is not where it was expected")?;
        edits.push((root.join("crates/contracts/src/lib.rs"), contracts));
        if let Some((path, _)) = files.iter().find(|(path, _)| path.exists()) {
            bail!("{} exists already", path.display());
        }
        files.extend(edits);
        Ok(Self { root: root.to_owned(), module, files })
    }

    fn write(&self) -> anyhow::Result<()> {
        for (path, text) in &self.files {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        // The edited lists are laid out by rustfmt, as the rest of the tree is.
        let rust: Vec<&PathBuf> =
            self.files.iter().map(|(path, _)| path).filter(|p| p.extension().is_some_and(|e| e == "rs")).collect();
        let formatted =
            Command::new("rustfmt").arg("--edition").arg("2024").args(&rust).current_dir(&self.root).status();
        if !formatted.is_ok_and(|status| status.success()) {
            eprintln!("warning: rustfmt did not run; run `cargo fmt --all`");
        }
        Ok(())
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let words_ok = name
        .split('-')
        .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if !words_ok || !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.len() > 30 {
        bail!(
            "`{name}` is not a context name: lower case letters and digits, words joined by `-`, at most 30 characters, starting with a letter"
        );
    }
    Ok(())
}

fn read(root: &Path, path: &str) -> anyhow::Result<String> {
    let full = root.join(path);
    std::fs::read_to_string(&full).with_context(|| format!("reading {}", full.display()))
}

/// `text` with `line` inserted after the last line that starts with `prefix` and contains `marker`,
/// within the TOML `[section]` when one is named.
fn insert_after_last(text: &str, section: Option<&str>, prefix: &str, marker: &str, line: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (from, to) = match section {
        None => (0, lines.len()),
        Some(section) => {
            let from = lines.iter().position(|l| l.trim() == section)?;
            let to = lines[from + 1..].iter().position(|l| l.starts_with('[')).map_or(lines.len(), |n| from + 1 + n);
            (from, to)
        }
    };
    let at = from + lines[from..to].iter().rposition(|l| l.starts_with(prefix) && l.contains(marker))?;
    let mut out: Vec<&str> = lines[..=at].to_vec();
    out.push(line);
    out.extend(&lines[at + 1..]);
    Some(out.join("\n") + "\n")
}

/// `text` with `item` appended to the `&[...]` list that follows `declaration`.
fn append_to_list(text: &str, declaration: &str, item: &str) -> Option<String> {
    let start = text.find(declaration)? + declaration.len();
    let end = start + text[start..].find("];")?;
    let body = text[start..end].trim_end().trim_end_matches(',');
    Some(format!("{}{body}, {item}{}", &text[..start], &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_context_names() {
        for good in ["basket", "payment-provider", "shipping2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["Basket", "-basket", "basket-", "pay--ments", "2fa", "bask et", "a/b", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_and_lines_grow_in_place() {
        let registry = "pub static SERVICES: &[&ServiceDefinition] =\n    &[&a::SERVICE, &b::SERVICE];\n";
        assert_eq!(
            append_to_list(registry, "pub static SERVICES: &[&ServiceDefinition] =", "&c::SERVICE").unwrap(),
            "pub static SERVICES: &[&ServiceDefinition] =\n    &[&a::SERVICE, &b::SERVICE, &c::SERVICE];\n"
        );
        let manifest = "[deps]\nflotilla-a.workspace = true\nother = 1\n[dev]\nflotilla-t.workspace = true\n";
        let grown =
            insert_after_last(manifest, Some("[deps]"), "flotilla-", ".workspace", "flotilla-b.workspace = true");
        assert_eq!(
            grown.unwrap(),
            "[deps]\nflotilla-a.workspace = true\nflotilla-b.workspace = true\nother = 1\n[dev]\nflotilla-t.workspace = true\n"
        );
    }

    #[test]
    fn a_taken_name_or_port_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let error = Plan::new("catalog", 9100, dir.path()).err().unwrap().to_string();
        assert!(error.contains("already registered"), "{error}");
        let error = Plan::new("returns", 8082, dir.path()).err().unwrap().to_string();
        assert!(error.contains("catalog's default port"), "{error}");
        let error = Plan::new("returns", 9100, dir.path()).err().unwrap().to_string();
        assert!(error.contains("Cargo.toml"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
