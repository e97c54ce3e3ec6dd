//! Placeholder lists for multi-row statements (`$1, $2, …`), the same on both engines.

/// `rows` groups of `per_row` placeholders (`$1, $2, …` in order), each group shaped by
/// `shape`, joined by commas.
pub(crate) fn placeholders(
    rows: usize,
    per_row: usize,
    shape: impl Fn(&[String]) -> String,
) -> String {
    placeholders_at(1, rows, per_row, shape)
}

/// [`placeholders`] numbered from `$first` (a statement with several lists).
pub(crate) fn placeholders_at(
    first: usize,
    rows: usize,
    per_row: usize,
    shape: impl Fn(&[String]) -> String,
) -> String {
    (0..rows)
        .map(|r| {
            let group: Vec<String> = (0..per_row)
                .map(|k| format!("${}", first + r * per_row + k))
                .collect();
            shape(&group)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
