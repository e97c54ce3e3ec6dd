//! CSV fields for the downloads people open in a spreadsheet (the coordinator's report, the
//! audit search): quoted where needed, and never read by the spreadsheet as a formula.

/// One field: a text that a spreadsheet would take for a formula (`=`, `+`, `-`, `@` first,
/// not a number) gets a leading `'`; a field with a comma, quote or line break is quoted.
pub fn field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@']) && f.parse::<f64>().is_err() {
        format!("'{f}")
    } else {
        f.to_string()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

/// A line of fields, without its line end.
pub fn line<'a>(fields: impl IntoIterator<Item = &'a str>) -> String {
    fields.into_iter().map(field).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_defused_and_separators_quoted() {
        assert_eq!(super::field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(super::field("-5"), "-5");
        assert_eq!(super::field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(super::line(["a", "b c"]), "a,b c");
    }
}
