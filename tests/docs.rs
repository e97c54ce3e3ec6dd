//! The documents in `docs/` stay true: every rule R1–R26 is stated in `docs/rules.md`, and every
//! source file, function and test it names exists; every refusal code and every setting is
//! documented; the README stays short and no document links to a file that is not there.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `file::name` (a test in `tests/file.rs`) or `a::b::tests::name` (a unit test in `src/a/b`).
fn test_exists(reference: &str) -> bool {
    let parts: Vec<&str> = reference.split("::").collect();
    let (name, module) = parts.split_last().expect("a name");
    let file = match module {
        [file] => root().join("tests").join(format!("{file}.rs")),
        [path @ .., "tests"] => {
            let base = root().join("src").join(path.join("/"));
            let file = base.with_extension("rs");
            if file.exists() {
                file
            } else {
                base.join("mod.rs")
            }
        }
        _ => return false,
    };
    file.exists() && read(&file).contains(&format!("fn {name}("))
}

#[test]
fn every_rule_is_stated_with_places_and_tests_that_exist() {
    let text = read(&root().join("docs/rules.md"));
    let mut missing = Vec::new();
    for n in 1..=26 {
        let head = format!("**R{n} — ");
        let Some(start) = text.find(&head) else {
            missing.push(format!("R{n} is not stated"));
            continue;
        };
        let rest = &text[start..];
        let end = rest[2..].find("**R").map_or(rest.len(), |i| i + 2);
        let section = &rest[..end];
        if !section.contains("Enforced:") || !section.contains("Tested:") {
            missing.push(format!("R{n} says neither where it is enforced nor tested"));
        }
        // Every `name` in backquotes: a test reference, a source file, or a function there.
        let mut file: Option<String> = None;
        for (i, quoted) in section.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            if quoted.ends_with(".rs") {
                let path = root().join("src").join(quoted);
                if !path.exists() {
                    missing.push(format!("R{n}: src/{quoted} does not exist"));
                }
                file = Some(quoted.to_string());
            } else if quoted.contains("::") && !quoted.contains(' ') {
                if !test_exists(quoted) {
                    missing.push(format!("R{n}: test {quoted} does not exist"));
                }
            } else if quoted.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                if let Some(f) = &file {
                    let src = read(&root().join("src").join(f));
                    if !src.contains(&format!("fn {quoted}")) {
                        missing.push(format!("R{n}: no fn {quoted} in src/{f}"));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "docs/rules.md: {missing:#?}");
}

/// Every refusal code, of the doors and of administration, is in the tables of
/// `docs/refusals.md` with its status, so a code a client or an operator meets is always
/// explained.
#[test]
fn every_refusal_code_is_documented_in_docs_refusals() {
    let text = read(&root().join("docs/refusals.md"));
    let missing: Vec<&str> = imax_gateway::error::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !text.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in docs/refusals.md's tables: {missing:?}"
    );
}

/// The Markdown files a reader follows links through: the README and every file in `docs/`.
fn documents() -> Vec<std::path::PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The targets of a Markdown text's inline links (`[text](target)`), without any `#fragment`,
/// leaving out web addresses and links within the page.
fn relative_links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')')?];
            let target = target.split('#').next().unwrap_or_default();
            let relative = !target.is_empty()
                && !target.contains(char::is_whitespace)
                && !target.contains("://")
                && !target.starts_with("mailto:");
            relative.then_some(target)
        })
        .collect()
}

/// The README is read in ten minutes: under 450 lines, the rest in `docs/`; and every relative
/// link in it and in `docs/*.md` points at a file that exists, so moving a section cannot
/// leave a reader at a dead end.
#[test]
fn the_readme_stays_short() {
    let readme = read(&root().join("README.md"));
    let lines = readme.lines().count();
    assert!(
        lines < 450,
        "README.md has {lines} lines; move detail to docs/"
    );
    let mut broken = Vec::new();
    for file in documents() {
        let text = read(&file);
        let dir = file.parent().expect("a directory");
        for target in relative_links(&text) {
            if !dir.join(target).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to missing files: {broken:#?}");
}

/// Every key of `examples/imax.toml` (the embedded defaults, what `imax config example`
/// prints) has its row in the reference table of `docs/configuration.md`.
#[test]
fn every_setting_is_in_the_configuration_reference() {
    let reference = read(&root().join("docs/configuration.md"));
    let mut section = String::new();
    let mut missing = Vec::new();
    for line in read(&root().join("examples/imax.toml")).lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = format!("{name}.");
        } else if let Some((key, _)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
            let setting = format!("{section}{}", key.trim());
            if !reference.contains(&format!("| `{setting}` |")) {
                missing.push(setting);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:?}"
    );
}
