//! One file per use case, short functions (issue 26 item 2): no source file of `src/` is over
//! 500 lines and no function over 80 lines, tests aside. A file's size is counted up to its
//! first top-level `#[cfg(test)]` (its unit tests), and functions inside that part only. A
//! function runs from its `fn` line to the first `}` at the same indentation, which `cargo fmt`
//! guarantees is its closing brace.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 80;

/// TEMPORARY: files other helpers are rewriting right now (session of 2026-12-06); the merger
/// empties this list once their branches are in. A path ending in `/` exempts a whole folder.
/// Nothing may be added here to make a new long function pass.
const IN_REWRITE: &[&str] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The name of the function a line declares, if it opens one (`pub(crate) async fn name…`).
fn declared_fn(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            w if w.starts_with("pub") => {}
            "async" | "const" | "unsafe" | "extern" | "\"C\"" => {}
            "fn" => {
                let name = words.next()?;
                let end = name
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(name.len());
                return Some(&name[..end]);
            }
            _ => return None,
        }
    }
    None
}

/// The functions of `lines` longer than the limit: `(name, first line, length)`.
fn long_fns(lines: &[&str]) -> Vec<(String, usize, usize)> {
    let mut long = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = declared_fn(lines[i]) else {
            i += 1;
            continue;
        };
        let depth = indent(lines[i]);
        // The signature may run over several lines; a `;` ends a bodiless declaration.
        let mut open = i;
        while open < lines.len() {
            let l = lines[open].trim_end();
            if l.ends_with('{') || l.ends_with(';') || l.ends_with('}') {
                break;
            }
            open += 1;
        }
        let Some(l) = lines.get(open).map(|l| l.trim_end()) else {
            break;
        };
        if !l.ends_with('{') {
            i = open + 1;
            continue;
        }
        let mut close = open + 1;
        while close < lines.len()
            && !(indent(lines[close]) == depth && lines[close].trim_start().starts_with('}'))
        {
            close += 1;
        }
        let length = close - i + 1;
        if length > MAX_FN_LINES {
            long.push((name.to_string(), i + 1, length));
        }
        // Nested functions are counted inside their parent, not on their own.
        i = close + 1;
    }
    long
}

#[test]
fn no_file_over_500_lines_and_no_function_over_80() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(root)
            .expect("in the crate")
            .to_string_lossy()
            .replace('\\', "/");
        if IN_REWRITE
            .iter()
            .any(|e| rel == *e || (e.ends_with('/') && rel.starts_with(e)))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read");
        let lines: Vec<&str> = text
            .lines()
            .take_while(|l| !l.starts_with("#[cfg(test)]"))
            .collect();
        if lines.len() > MAX_FILE_LINES {
            wrong.push(format!(
                "{rel}: {} lines (at most {MAX_FILE_LINES}, tests aside)",
                lines.len()
            ));
        }
        for (name, line, length) in long_fns(&lines) {
            wrong.push(format!(
                "{rel}:{line}: fn {name} is {length} lines (at most {MAX_FN_LINES})"
            ));
        }
    }
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "too long (issue 26 item 2: one file per use case, short functions):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scanner_finds_a_long_function_and_skips_a_declaration() {
    let mut text = String::from(
        "trait T {\n    fn f(&self);\n}\npub(crate) async fn long(\n    a: u8,\n) -> u8 {\n",
    );
    for _ in 0..80 {
        text.push_str("    let _ = a;\n");
    }
    text.push_str("    a\n}\nfn short() {}\n");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(long_fns(&lines), vec![("long".to_string(), 4, 85)]);
}
