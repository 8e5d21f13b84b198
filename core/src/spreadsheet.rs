//! Cells of CSV files people open in a spreadsheet. A cell that starts with
//! `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
//! LibreOffice and Google Sheets as a formula, which can run commands or
//! send the sheet's data away (CSV injection): exports write such a cell
//! with a leading `'`, which spreadsheets show as text, and imports remove
//! that `'` again, so a file exported and imported comes back the same.

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A value made safe to put in an exported cell.
pub fn export_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) || value.starts_with('\'') && value[1..].starts_with(FORMULA_STARTS) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// An imported cell's value, without the `'` an export added.
pub fn import_cell(value: &str) -> &str {
    match value.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) || rest.starts_with('\'') => rest,
        _ => value,
    }
}

/// A reader of an uploaded CSV file: UTF-8 (a byte-order mark is skipped),
/// a header row, cells trimmed, `;` between columns when the header has
/// more of them than commas (spreadsheets in Spanish locales save so).
pub fn csv_reader(bytes: &[u8]) -> Result<csv::Reader<&[u8]>, &'static str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| "the CSV must be UTF-8 text")?;
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() { b';' } else { b',' };
    Ok(csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).trim(csv::Trim::All).from_reader(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_written_as_text_and_read_back() {
        for (value, exported) in [
            ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
            ("+57 300", "'+57 300"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("'=already", "''=already"),
            ("¿Cómo pago?", "¿Cómo pago?"),
            ("it's fine", "it's fine"),
        ] {
            assert_eq!(export_cell(value), exported, "{value}");
            assert_eq!(import_cell(&export_cell(value)), value, "round trip of {value}");
        }
    }
}
