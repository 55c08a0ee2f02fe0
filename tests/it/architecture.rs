//! The architecture's one rule that code can check (ARCHITECTURE.md): dependencies between the
//! top-level modules of `src/` point one way. Each module may use only modules of a lower layer
//! or of its own layer listed before it, so there is no cycle, and `domain/` uses nothing else of
//! Parley's. Dependencies are read from `crate::…` paths and `use crate::{…}` groups, outside
//! comments and `#[cfg(test)]` code, as `../shared/tools/module-cycles` reads them.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The top-level modules, lowest first. A module may depend only on modules before it.
const LAYERS: &[&str] = &[
    // Parsed values: nothing else of Parley's.
    "domain",
    // Foundations.
    "config",
    "error",
    "telemetry",
    "db",
    "whatsapp",
    "pagination",
    // Data and state: one module per kind of row, and the event bus that records their changes.
    "events",
    "services",
    "ratelimit",
    "auth",
    "contacts",
    "conversations",
    "senders",
    "accounts",
    "message_status",
    "send_queue",
    "templates",
    "seed",
    // Services.
    "sending",
    "auto_reply",
    "webhooks",
    // Workers.
    "dispatch",
    "outbound",
    // Surfaces.
    "rest",
    "graphql",
    "app",
];

fn words_before_paths(group: &str) -> BTreeSet<String> {
    // A word that starts the group or follows white space, a comma or a brace, and is followed by
    // `::`, a comma, a brace or the end: the module names a `use crate::{…}` group lists.
    let bytes = group.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = BTreeSet::new();
    let mut start = 0;
    while start < bytes.len() {
        if !is_word(bytes[start])
            || (start > 0
                && !matches!(bytes[start - 1], b' ' | b'\t' | b'\n' | b'\r' | b',' | b'{'))
        {
            start += 1;
            continue;
        }
        let mut end = start;
        while end < bytes.len() && is_word(bytes[end]) {
            end += 1;
        }
        let rest = group[end..].trim_start();
        if rest.is_empty()
            || rest.starts_with("::")
            || rest.starts_with(',')
            || rest.starts_with('}')
        {
            found.insert(group[start..end].to_owned());
        }
        start = end;
    }
    found
}

/// The top-level modules a source file refers to.
fn references(source: &str) -> BTreeSet<String> {
    let text: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (at, _) in text.match_indices("crate::") {
        if text[..at].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let name: String = text[at + 7..].chars().take_while(|&c| is_word(c)).collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    let mut rest = text;
    while let Some(at) = rest.find("use") {
        let after = &rest[at + 3..];
        let trimmed = after.trim_start();
        if after.len() != trimmed.len()
            && let Some(group) = trimmed.strip_prefix("crate::{")
        {
            let statement = &group[..group.find(';').unwrap_or(group.len())];
            if let Some(close) = statement.rfind('}') {
                found.extend(words_before_paths(&statement[..close]));
            }
        }
        rest = after;
    }
    found
}

fn rust_files(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), files);
        }
    } else if path.is_file() && path.extension().is_some_and(|extension| extension == "rs") {
        files.push(path.to_owned());
    }
}

/// Each top-level module of `src/` with the top-level modules it refers to.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "main"
            && name != "lib"
            && (path.is_dir() || name.len() + 3 == path.file_name().unwrap().len())
        {
            modules.insert(name, BTreeSet::new());
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    for (name, uses) in modules.iter_mut() {
        let mut files = Vec::new();
        rust_files(&src.join(name), &mut files);
        rust_files(&src.join(format!("{name}.rs")), &mut files);
        for file in files {
            let source = fs::read_to_string(&file).unwrap();
            uses.extend(
                references(&source)
                    .into_iter()
                    .filter(|used| used != name && names.contains(used)),
            );
        }
    }
    modules
}

#[test]
fn dependencies_between_top_level_modules_point_down_the_layers() {
    let graph = module_graph();
    let rank = |name: &str| LAYERS.iter().position(|layer| *layer == name);
    let unlisted: Vec<&String> = graph.keys().filter(|name| rank(name).is_none()).collect();
    assert!(
        unlisted.is_empty(),
        "add these modules to LAYERS in tests/it/architecture.rs and to ARCHITECTURE.md: {unlisted:?}"
    );
    let upward: Vec<String> = graph
        .iter()
        .flat_map(|(name, uses)| {
            uses.iter()
                .filter(|used| rank(used) >= rank(name))
                .map(move |used| format!("{name} -> {used}"))
        })
        .collect();
    assert!(
        upward.is_empty(),
        "these dependencies point up the layers (or sideways to a later module): {upward:?}"
    );
    assert!(
        graph["domain"].is_empty(),
        "domain/ uses {:?}",
        graph["domain"]
    );
}

#[test]
fn references_are_read_as_the_module_cycles_tool_reads_them() {
    let source = "use crate::{\n    auth::{self, Scope},\n    db,\n    error::AppError,\n};\n\
                  // crate::ignored::x\nfn f() { crate::events::publish(); other_crate::x(); }\n\
                  #[cfg(test)]\nmod tests { use crate::app; }\n";
    let found = references(source);
    for module in ["auth", "db", "error", "events"] {
        assert!(found.contains(module), "{module} not found in {found:?}");
    }
    for not_a_reference in ["ignored", "app", "other_crate", "x"] {
        assert!(!found.contains(not_a_reference), "{not_a_reference} found");
    }
}
