//! The crate's floors stay true: `docs/architecture.md` lists them (section "Floors"), and
//! every `crate::…` path in `src/` must name a module on a lower floor than its own (or its
//! own module). So no circle can form and no import can run back up, and the drawing in the
//! document is the one this test checks: it reads the order from there.

use std::collections::HashMap;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The floors as `docs/architecture.md` lists them: lines `N. `module`, `module`…` under the
/// heading "## Floors", lowest first.
fn floors() -> HashMap<String, usize> {
    let text = std::fs::read_to_string(root().join("docs/architecture.md")).expect("architecture");
    let section = text
        .split("## Floors")
        .nth(1)
        .expect("docs/architecture.md has a section \"## Floors\"");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut floors = HashMap::new();
    for line in section.lines() {
        let line = line.trim();
        let Some((n, rest)) = line.split_once(". ") else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else {
            continue;
        };
        for name in rest.split('`').skip(1).step_by(2) {
            if name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                floors.insert(name.to_string(), n);
            }
        }
    }
    assert!(floors.len() > 10, "too few modules found: {floors:?}");
    floors
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments (doc links may point anywhere).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_module_uses_only_the_floors_below_its_own() {
    let floors = floors();
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("in src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(&own) = floors.get(&module) else {
            wrong.push(format!(
                "src/{}: module `{module}` is on no floor of docs/architecture.md",
                rel.display()
            ));
            continue;
        };
        let text = code(&std::fs::read_to_string(&file).expect("read"));
        if text.contains("crate::{") {
            wrong.push(format!(
                "src/{}: `use crate::{{…}}` hides which modules it uses; name each",
                rel.display()
            ));
        }
        for (i, _) in text.match_indices("crate::") {
            let used: String = text[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if used.is_empty() || used == module {
                continue;
            }
            match floors.get(&used) {
                None => wrong.push(format!(
                    "src/{}: uses `{used}`, which is on no floor",
                    rel.display()
                )),
                Some(&floor) if floor >= own => wrong.push(format!(
                    "src/{}: `{module}` (floor {own}) uses `{used}` (floor {floor})",
                    rel.display()
                )),
                Some(_) => {}
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "imports against the floors:\n{}",
        wrong.join("\n")
    );
}
