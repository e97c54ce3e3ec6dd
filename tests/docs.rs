//! The documents in `docs/` stay true: every rule R1–R26 is stated in `docs/rules.md`, and every
//! source file, function and test it names exists.

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

/// Every refusal code, of the doors and of administration, is in the README's tables with its
/// status, so a code a client or an operator meets is always explained.
#[test]
fn every_refusal_code_is_documented_in_the_readme() {
    let readme = read(&root().join("README.md"));
    let missing: Vec<&str> = imax_gateway::error::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !readme.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the README's tables: {missing:?}"
    );
}
