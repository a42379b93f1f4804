//! The CSV reader of lead lists: rows with the physical line an editor shows, whatever ends
//! the lines.
//!
//! RFC 4180 with what spreadsheets write: `,` between fields; lines end with LF, CRLF or a
//! lone CR; a field that starts with `"` is quoted (`""` inside is one quote, line breaks are
//! part of the field, anything after the closing quote up to the next `,` is appended); a `"`
//! inside an unquoted field is an ordinary character; blank lines are skipped. A row's line is
//! the line it starts on (the header is line 1); a line break counts once whether it is LF,
//! CRLF or CR, inside quotes too.
//!
//! What the csv crate did not tell us: a quote that is still open at the end of the file (the
//! row swallowed every line after it), and the encoding. A UTF-8 byte-order mark is skipped;
//! UTF-16 (a byte-order mark, or NUL bytes between the letters) is named as such; bytes that
//! are not UTF-8 are an error naming the line, unless the file is read as Latin-1.

use std::io::BufRead;

/// Bytes kept of one row; the rest of a longer row is read (for its lines) but not kept.
pub const MAX_ROW_BYTES: usize = 8 << 20;

/// How the bytes of a list are decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// UTF-8 (a byte-order mark is skipped).
    #[default]
    #[value(name = "utf8", alias = "utf-8")]
    Utf8,
    /// ISO 8859-1 as spreadsheets write it: Windows-1252, which differs from ISO 8859-1 only
    /// in 0x80–0x9F (€, curly quotes, …), as web browsers read "latin1".
    #[value(
        name = "latin1",
        alias = "latin-1",
        alias = "iso-8859-1",
        alias = "windows-1252",
        alias = "cp1252"
    )]
    Latin1,
}

/// Why a list cannot be read on (the line is where it went wrong).
#[derive(Debug, thiserror::Error)]
pub enum RowsError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "the file is UTF-16 {order} ({how}), not UTF-8: save it as \"CSV UTF-8\" and import it again"
    )]
    Utf16 {
        order: &'static str,
        how: &'static str,
    },
    #[error(
        "not valid UTF-8 ({column}byte 0x{byte:02X}): the file looks like Latin-1 (ISO 8859-1 or \
         Windows-1252); save it as \"CSV UTF-8\", or import it with --encoding latin1"
    )]
    NotUtf8 { column: String, byte: u8 },
    #[error(
        "unterminated quote: the quoted field opened on this line never closes, so the {lines} \
         lines from here to the end of the file (line {last}) are one broken row"
    )]
    UnterminatedQuote { lines: u64, last: u64 },
}

/// A [`RowsError`] at a line.
#[derive(Debug)]
pub struct LineError {
    pub line: u64,
    pub error: RowsError,
}

/// One row: its fields, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line it starts on (1-based).
    pub line: u64,
    /// The line it ends on (after `line` when a quoted field holds line breaks).
    pub last_line: u64,
    /// Bytes of the file up to the end of this row.
    pub end_byte: u64,
    /// Its length in bytes when it is longer than [`MAX_ROW_BYTES`] (its fields are then
    /// cut short and must not be used).
    pub too_long: Option<u64>,
    pub fields: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    StartField,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the end of the quotes, or the first half of `""`.
    QuoteInQuoted,
}

/// Reads rows from a buffered reader.
pub struct Rows<R> {
    input: R,
    encoding: Encoding,
    /// The current line (1-based).
    line: u64,
    /// The last byte seen was a CR (a following LF is the same line break).
    after_cr: bool,
    /// The last byte seen ended a line (so the file's last line is the one before).
    after_eol: bool,
    byte: u64,
    /// The raw bytes of the row being read, and where each field ends in them.
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Names of the columns, for messages about a field (set once the header is read).
    names: Vec<String>,
}

/// The first bytes of a file, looked at before its rows, then read again.
pub type Sniffed<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

impl<R: BufRead> Rows<Sniffed<R>> {
    /// Look at the first bytes: skip a UTF-8 byte-order mark, refuse UTF-16.
    pub fn open(mut input: R, encoding: Encoding) -> Result<Self, LineError> {
        use std::io::Read;
        let at1 = |error| LineError { line: 1, error };
        let mut head = Vec::with_capacity(4096);
        (&mut input)
            .take(4096)
            .read_to_end(&mut head)
            .map_err(|e| at1(RowsError::Io(e)))?;
        let mut skip = 0;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            skip = 3;
        }
        let bom = |order| {
            at1(RowsError::Utf16 {
                order,
                how: "it starts with a byte-order mark",
            })
        };
        if head.starts_with(&[0xFF, 0xFE]) {
            return Err(bom("little-endian"));
        }
        if head.starts_with(&[0xFE, 0xFF]) {
            return Err(bom("big-endian"));
        }
        // ASCII text as UTF-16 without a byte-order mark: a NUL byte beside every letter.
        let nul_at = |odd: usize| {
            head.iter()
                .enumerate()
                .filter(|(i, b)| **b == 0 && i % 2 == odd)
                .count()
        };
        let (even, odd) = (nul_at(0), nul_at(1));
        if head.len() >= 4 && even.max(odd) * 4 >= head.len() {
            return Err(at1(RowsError::Utf16 {
                order: if odd > even {
                    "little-endian"
                } else {
                    "big-endian"
                },
                how: "NUL bytes between the letters",
            }));
        }
        let mut cursor = std::io::Cursor::new(head);
        cursor.set_position(skip);
        Ok(Self {
            input: cursor.chain(input),
            encoding,
            line: 1,
            after_cr: false,
            after_eol: false,
            byte: skip,
            buf: Vec::new(),
            ends: Vec::new(),
            names: Vec::new(),
        })
    }
}

impl<R: BufRead> Rows<R> {
    /// Name the columns (the header's fields), so that encoding errors say which one.
    pub fn set_names(&mut self, names: Vec<String>) {
        self.names = names;
    }

    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.byte
    }

    /// The next row, `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Row>, LineError> {
        self.buf.clear();
        self.ends.clear();
        let mut state = State::StartField;
        let mut first_line = None;
        let mut quote_line = 0;
        let mut row_bytes = 0u64;
        let mut done = false;
        while !done {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(LineError {
                        line: self.line,
                        error: RowsError::Io(e),
                    });
                }
            };
            if chunk.is_empty() {
                // End of the file.
                let Some(line) = first_line else {
                    return Ok(None);
                };
                if state == State::Quoted {
                    let last = self.line - u64::from(self.after_eol);
                    return Err(LineError {
                        line: quote_line,
                        error: RowsError::UnterminatedQuote {
                            lines: last - quote_line + 1,
                            last,
                        },
                    });
                }
                self.ends.push(self.buf.len());
                return self.row(line, self.line, row_bytes).map(Some);
            }
            let (buf, ends) = (&mut self.buf, &mut self.ends);
            let mut used = 0;
            for &b in chunk {
                used += 1;
                let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
                let eol = b == b'\r' || b == b'\n';
                self.after_eol = eol;
                if first_line.is_none() {
                    // Blank lines between rows are skipped.
                    if eol {
                        if b == b'\r' || !after_cr {
                            self.line += 1;
                        }
                        continue;
                    }
                    first_line = Some(self.line);
                }
                if eol && state != State::Quoted {
                    // The end of the row; the line break is counted when the next row starts.
                    self.after_cr = false;
                    used -= 1;
                    done = true;
                    break;
                }
                row_bytes += 1;
                if eol && (b == b'\r' || !after_cr) {
                    self.line += 1;
                }
                match state {
                    State::StartField | State::Unquoted if b == b',' => {
                        ends.push(buf.len());
                        state = State::StartField;
                    }
                    State::StartField if b == b'"' => {
                        quote_line = self.line;
                        state = State::Quoted;
                    }
                    State::StartField | State::Unquoted => {
                        push(buf, b);
                        state = State::Unquoted;
                    }
                    State::Quoted if b == b'"' => state = State::QuoteInQuoted,
                    State::Quoted => push(buf, b),
                    State::QuoteInQuoted if b == b'"' => {
                        push(buf, b);
                        state = State::Quoted;
                    }
                    State::QuoteInQuoted if b == b',' => {
                        ends.push(buf.len());
                        state = State::StartField;
                    }
                    State::QuoteInQuoted => {
                        push(buf, b);
                        state = State::Unquoted;
                    }
                }
            }
            self.input.consume(used);
            self.byte += used as u64;
        }
        let last = self.line;
        self.ends.push(self.buf.len());
        match first_line {
            Some(line) => self.row(line, last, row_bytes).map(Some),
            None => Ok(None),
        }
    }

    fn row(&self, line: u64, last_line: u64, row_bytes: u64) -> Result<Row, LineError> {
        let too_long = (row_bytes > MAX_ROW_BYTES as u64).then_some(row_bytes);
        let mut fields = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            let raw = &self.buf[start.min(end)..end];
            start = end;
            fields.push(match self.encoding {
                Encoding::Latin1 => raw.iter().map(|&b| windows_1252(b)).collect(),
                Encoding::Utf8 => match std::str::from_utf8(raw) {
                    Ok(s) => s.to_string(),
                    Err(_) if too_long.is_some() => String::from_utf8_lossy(raw).into_owned(),
                    Err(e) => {
                        let column = match self.names.get(i) {
                            Some(n) => format!("column {}, ", super::cut(n)),
                            None if self.names.is_empty() => String::new(),
                            None => format!("column {}, ", i + 1),
                        };
                        return Err(LineError {
                            line,
                            error: RowsError::NotUtf8 {
                                column,
                                byte: raw.get(e.valid_up_to()).copied().unwrap_or(0),
                            },
                        });
                    }
                },
            });
        }
        Ok(Row {
            line,
            last_line,
            end_byte: self.byte,
            too_long,
            fields,
        })
    }
}

fn push(buf: &mut Vec<u8>, b: u8) {
    if buf.len() < MAX_ROW_BYTES {
        buf.push(b);
    }
}

/// A byte of Windows-1252 as a character (the five bytes it leaves undefined as the C1
/// controls of ISO 8859-1, as WHATWG does).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows read (line, fields), or the error (line, message).
    type Parsed = Result<Vec<(u64, Vec<String>)>, (u64, String)>;

    /// A reader handing out one byte at a time: every state crosses a buffer boundary.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((b, rest)), Some(o)) => {
                    *o = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn read_all(bytes: &[u8], enc: Encoding) -> Parsed {
        let whole = collect(Rows::open(bytes, enc));
        let trickle = std::io::BufReader::with_capacity(1, Trickle(bytes));
        let trickled = collect(Rows::open(trickle, enc));
        assert_eq!(whole, trickled, "the same rows read a byte at a time");
        whole
    }

    fn collect<R: BufRead>(r: Result<Rows<R>, LineError>) -> Parsed {
        let mut r = r.map_err(|e| (e.line, e.error.to_string()))?;
        let mut out = Vec::new();
        loop {
            match r.next_row() {
                Ok(Some(row)) => out.push((row.line, row.fields)),
                Ok(None) => return Ok(out),
                Err(e) => return Err((e.line, e.error.to_string())),
            }
        }
    }

    fn rows(v: &[(u64, &[&str])]) -> Vec<(u64, Vec<String>)> {
        v.iter()
            .map(|(l, f)| (*l, f.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn lines_are_counted_for_lf_crlf_and_cr() {
        for eol in ["\n", "\r\n", "\r"] {
            let text = ["h,i", "a,b", "", "c,\"x", "y\"", "d,e", ""].join(eol);
            assert_eq!(
                read_all(text.as_bytes(), Encoding::Utf8),
                Ok(rows(&[
                    (1, &["h", "i"]),
                    (2, &["a", "b"]),
                    (4, &["c", &format!("x{eol}y")]),
                    (6, &["d", "e"]),
                ])),
                "{eol:?}"
            );
        }
    }

    #[test]
    fn quotes_follow_rfc_4180_and_what_spreadsheets_write() {
        let text = "\"a\"\"b\",\"\",c\"d,\"e\"f,,\n\"last\"";
        assert_eq!(
            read_all(text.as_bytes(), Encoding::Utf8),
            Ok(rows(&[
                (1, &["a\"b", "", "c\"d", "ef", "", ""]),
                (2, &["last"])
            ]))
        );
    }

    #[test]
    fn an_open_quote_at_the_end_is_an_error_at_its_line() {
        // Whether or not the file ends with a line break, its last line is line 5.
        for end in ["", "\r\n"] {
            let text = format!("h\r\na\r\n\"b\r\nc\r\nd{end}");
            let r = read_all(text.as_bytes(), Encoding::Utf8);
            let (line, msg) = r.expect_err("unterminated");
            assert_eq!(line, 3);
            let want = "the 3 lines from here to the end of the file (line 5)";
            assert!(msg.contains(want), "{end:?}: {msg}");
        }
    }

    #[test]
    fn encodings() {
        assert_eq!(
            read_all("\u{feff}h\nRen\u{e9}e".as_bytes(), Encoding::Utf8),
            Ok(rows(&[(1, &["h"]), (2, &["Ren\u{e9}e"])]))
        );
        assert_eq!(
            read_all(b"h\nRen\xE9e \x80\n", Encoding::Latin1),
            Ok(rows(&[(1, &["h"]), (2, &["Ren\u{e9}e \u{20ac}"])]))
        );
        let (line, msg) = read_all(b"h\r\n\r\nRen\xE9e\n", Encoding::Utf8).expect_err("Latin-1");
        assert_eq!(line, 3);
        assert!(
            msg.contains("byte 0xE9") && msg.contains("Latin-1"),
            "{msg}"
        );
        let le: Vec<u8> = "h,i\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = "h,i\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
        for (bytes, order) in [
            ([&[0xFF, 0xFE][..], &le].concat(), "UTF-16 little-endian"),
            (le.clone(), "UTF-16 little-endian"),
            ([&[0xFE, 0xFF][..], &be].concat(), "UTF-16 big-endian"),
            (be.clone(), "UTF-16 big-endian"),
        ] {
            let (line, msg) = read_all(&bytes, Encoding::Utf8).expect_err("UTF-16");
            assert_eq!(line, 1);
            assert!(msg.contains(order), "{msg}");
        }
    }

    #[test]
    fn a_row_too_long_to_keep_is_read_to_its_end() {
        let long = "x".repeat(MAX_ROW_BYTES + 10);
        let text = format!("h\n{long}\nnext\n");
        let mut r = Rows::open(text.as_bytes(), Encoding::Utf8).expect("UTF-8");
        assert_eq!(r.next_row().ok().flatten().map(|r| r.too_long), Some(None));
        let row = r.next_row().ok().flatten().expect("the long row");
        assert_eq!((row.line, row.too_long), (2, Some(long.len() as u64)));
        let next = r.next_row().ok().flatten().expect("the row after");
        assert_eq!((next.line, next.fields), (3, vec!["next".to_string()]));
    }
}
