//! Lexing: one line of the command language split into its command word and its arguments.
//!
//! The rules (`docs/command-language.md`, "Lines and words"):
//! - A blank line, or one whose first non-blank character is `#`, carries no command.
//! - Words are separated by spaces or tabs. Trailing blanks, `\r` and `\n` are ignored.
//! - The first word is the command word. Every later word is either `key=value` or a bare flag
//!   word with no `=` (`bare`, `clear`). Keys and flag words are lowercase `[a-z_]+`.
//! - A value is either a bare token (anything but blanks, `"` and control characters, at least one
//!   character) or a double-quoted string in which `\"` and `\\` are the only escapes; a quoted
//!   string must be followed by a blank or the end of the line.
//! - Control characters (NUL, `\n` or `\r` inside the line, DEL, ...) are rejected everywhere
//!   outside comments, inside quoted strings too.
//!
//! The lexer knows nothing about which keys a command takes; `parse.rs` checks that.

use anonmap_abi::{err, Error};

/// One argument after the command word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// `key=value`, the value with its quotes and escapes removed.
    Pair { key: &'a str, value: String },
    /// A bare word without `=`, such as `bare` or `clear`.
    Flag(&'a str),
}

/// A lexed line that carries a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    pub verb: &'a str,
    pub args: Vec<Token<'a>>,
}

/// Splits `line` into its command word and arguments; `Ok(None)` for a blank or comment line.
pub(crate) fn lex(line: &str) -> Result<Option<Line<'_>>, Error> {
    let text = line.trim_end_matches([' ', '\t', '\r', '\n']);
    let body = text.trim_start_matches([' ', '\t']);
    if body.is_empty() || body.starts_with('#') {
        return Ok(None);
    }
    let mut scanner = Scanner { text, pos: 0 };
    scanner.skip_blanks();
    let verb = scanner.word()?;
    if scanner.peek() == Some('=') {
        return Err(err!(
            EINVAL,
            "a line must start with a command word, not with {:?}",
            format!("{verb}=")
        ));
    }
    let args = scanner
        .args()
        .map_err(|e| Error::new(e.errno, format!("{verb}: {}", e.message)))?;
    Ok(Some(Line { verb, args }))
}

/// Whether `word` is a valid key or flag word: lowercase `[a-z_]+`.
fn is_key(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// A cursor over the line; `pos` is always a char boundary of `text`.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    /// The 1-based column (in characters) of the cursor.
    fn column(&self) -> usize {
        self.text[..self.pos].chars().count() + 1
    }

    /// The error for control character `c` at the cursor.
    fn control_error(&self, c: char) -> Error {
        err!(
            EINVAL,
            "control character U+{:04X} at column {} is not allowed",
            u32::from(c),
            self.column()
        )
    }

    /// A run of characters up to a blank, `=` or the end of the line: a command word, a key or
    /// a flag word. A `"` or a control character there is an error.
    fn word(&mut self) -> Result<&'a str, Error> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '=' => break,
                '"' => {
                    return Err(err!(
                        EINVAL,
                        "unexpected '\"' at column {}: only values may be quoted, as key=\"...\"",
                        self.column()
                    ))
                }
                c if c.is_control() => return Err(self.control_error(c)),
                c => self.pos += c.len_utf8(),
            }
        }
        Ok(&self.text[start..self.pos])
    }

    /// The arguments after the command word, up to the end of the line.
    fn args(&mut self) -> Result<Vec<Token<'a>>, Error> {
        let mut args = Vec::new();
        loop {
            self.skip_blanks();
            if self.peek().is_none() {
                return Ok(args);
            }
            let column = self.column();
            let word = self.word()?;
            if self.peek() == Some('=') {
                self.pos += 1;
                if word.is_empty() {
                    return Err(err!(EINVAL, "missing key before '=' at column {column}"));
                }
                if !is_key(word) {
                    return Err(err!(
                        EINVAL,
                        "invalid key {word:?}: keys are lowercase [a-z_]+"
                    ));
                }
                let value = self.value(word)?;
                args.push(Token::Pair { key: word, value });
            } else if is_key(word) {
                args.push(Token::Flag(word));
            } else {
                return Err(err!(
                    EINVAL,
                    "unexpected word {word:?} at column {column}: expected key=value or a \
                     lowercase flag word"
                ));
            }
        }
    }

    /// The value of `key`, the cursor just past its `=`.
    fn value(&mut self, key: &str) -> Result<String, Error> {
        match self.peek() {
            Some('"') => self.quoted(key),
            None | Some(' ' | '\t') => Err(err!(EINVAL, "key {key}= has no value")),
            Some(_) => self.bare(key),
        }
    }

    /// A bare value: everything up to the next blank or the end of the line.
    fn bare(&mut self, key: &str) -> Result<String, Error> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' => break,
                '"' => {
                    return Err(err!(
                        EINVAL,
                        "unexpected '\"' inside the value of {key}= at column {}: quote the \
                         whole value, as {key}=\"...\"",
                        self.column()
                    ))
                }
                c if c.is_control() => return Err(self.control_error(c)),
                c => self.pos += c.len_utf8(),
            }
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    /// A double-quoted value, the cursor on its opening quote.
    fn quoted(&mut self, key: &str) -> Result<String, Error> {
        let unterminated = || err!(EINVAL, "unterminated quoted string in the value of {key}=");
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(unterminated()),
                Some('"') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('"' | '\\')) => {
                            self.pos += 1;
                            out.push(c);
                        }
                        Some(c) if c.is_control() => return Err(self.control_error(c)),
                        Some(c) => {
                            return Err(err!(
                                EINVAL,
                                "invalid escape \"\\{c}\" in the value of {key}=: only \\\" and \
                                 \\\\ are allowed"
                            ))
                        }
                        None => return Err(unterminated()),
                    }
                }
                Some(c) if c.is_control() => return Err(self.control_error(c)),
                Some(c) => {
                    self.pos += c.len_utf8();
                    out.push(c);
                }
            }
        }
        match self.peek() {
            None | Some(' ' | '\t') => Ok(out),
            Some(c) => Err(err!(
                EINVAL,
                "unexpected {c:?} at column {} right after the closing quote of {key}=",
                self.column()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair<'a>(key: &'a str, value: &str) -> Token<'a> {
        Token::Pair {
            key,
            value: value.to_owned(),
        }
    }

    #[test]
    fn blank_and_comment_lines_carry_nothing() {
        for line in [
            "",
            "   ",
            "\t",
            "\r",
            "\r\n",
            "# c",
            "   # c \"unterminated",
            "#\0",
        ] {
            assert_eq!(lex(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn splits_words_values_and_flags() {
        let line = lex("  spawn\tpid=1 comm=\"a \\\"b\\\" \\\\c\" bare  \r\n")
            .unwrap()
            .unwrap();
        assert_eq!(line.verb, "spawn");
        assert_eq!(
            line.args,
            vec![
                pair("pid", "1"),
                pair("comm", "a \"b\" \\c"),
                Token::Flag("bare")
            ]
        );
        let line = lex("file path=a=b\\c size=\"\"").unwrap().unwrap();
        assert_eq!(line.args, vec![pair("path", "a=b\\c"), pair("size", "")]);
        // A leading `-` is an ordinary character of a bare value (`clear_refs value=-1`).
        let line = lex("clear_refs pid=1 value=-1").unwrap().unwrap();
        assert_eq!(line.args, vec![pair("pid", "1"), pair("value", "-1")]);
    }

    #[test]
    fn lexical_errors_name_the_problem() {
        let cases = [
            ("name pid=1 name=\"abc", "unterminated quoted string"),
            ("name pid=1 name=\"abc\\", "unterminated quoted string"),
            ("name pid=1 name=\"a\\nb\"", "invalid escape \"\\n\""),
            (
                "name pid=1 name=\"a\"b",
                "right after the closing quote of name=",
            ),
            ("name pid=1 name=a\"b\"", "inside the value of name="),
            ("mmap len= pid=1", "key len= has no value"),
            ("mmap len=", "key len= has no value"),
            ("mmap PID=1", "invalid key \"PID\""),
            ("mmap =1", "missing key before '='"),
            ("mmap 0x1000", "unexpected word \"0x1000\""),
            ("pid=1", "must start with a command word"),
            ("spawn comm=a\0b", "control character U+0000 at column 13"),
            ("spawn comm=\"a\u{7}b\"", "control character U+0007"),
            ("spawn pid=1\rbare", "control character U+000D"),
            ("spawn pid=1\nspawn", "control character U+000A"),
            ("spawn \"x\"", "only values may be quoted"),
        ];
        for (line, want) in cases {
            let e = lex(line).unwrap_err();
            assert_eq!(e.errno, anonmap_abi::Errno::EINVAL, "{line:?}");
            assert!(e.message.contains(want), "{line:?}: {e}");
        }
    }
}
