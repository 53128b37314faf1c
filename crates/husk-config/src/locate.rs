//! Scanning the original text of an already parsed document.
//!
//! Typed deserialization runs on a `serde_json::Value` (so unknown
//! capabilities can be dropped first), which forgets positions; this walks
//! the raw text along a JSON path to give an error its line and column back.
//! A `Value` also keeps only the last of duplicate keys, so the text is
//! checked for them here. The text has already been parsed successfully, so
//! the scanner can assume well-formed JSON and simply gives up (`None`) on
//! anything unexpected.

use serde_path_to_error::{Path, Segment};

use crate::member_path;

/// 1-based line and column of the value at `path`, or of the deepest
/// enclosing value that could be found.
pub(crate) fn locate(text: &[u8], path: &Path) -> (usize, usize) {
    let steps = path.iter().map_while(|segment| match segment {
        Segment::Seq { index } => Some(Step::Element(*index)),
        Segment::Map { key } | Segment::Enum { variant: key } => Some(Step::Member(key.as_bytes())),
        Segment::Unknown => None,
    });
    locate_steps(text, steps)
}

/// A step along a JSON path; keys as bytes: decoded ones when looking a path
/// up, raw ones (escapes kept) when reporting a path found in the text.
enum Step<'a> {
    Element(usize),
    Member(&'a [u8]),
}

fn locate_steps<'a>(text: &[u8], steps: impl Iterator<Item = Step<'a>>) -> (usize, usize) {
    let mut scanner = Scanner { text, pos: 0 };
    scanner.skip_whitespace();
    for step in steps {
        let start = scanner.pos;
        let found = match step {
            Step::Element(index) => scanner.enter_element(index),
            Step::Member(key) => scanner.enter_member(key),
        };
        if found.is_none() {
            scanner.pos = start;
            break;
        }
    }
    line_and_column(text, scanner.pos)
}

/// The first key that appears twice in the same object: its JSON path and the
/// line and column of the second occurrence.
pub(crate) fn find_duplicate_key(text: &[u8]) -> Option<(String, usize, usize)> {
    let mut scanner = Scanner { text, pos: 0 };
    let mut steps = Vec::new();
    let pos = scanner.duplicate_key_in_value(&mut steps)?;
    let path = steps.iter().fold(String::new(), |path, step| match step {
        Step::Element(index) => format!("{path}[{index}]"),
        Step::Member(key) => member_path(&path, &String::from_utf8_lossy(key)),
    });
    let (line, column) = line_and_column(text, pos);
    Some((path, line, column))
}

fn line_and_column(text: &[u8], pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, pos - line_start + 1)
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Moves past a string starting at the opening quote; returns its raw
    /// contents (escapes not decoded).
    fn skip_string(&mut self) -> Option<&'a [u8]> {
        let start = self.pos + 1;
        let mut i = start;
        loop {
            match *self.text.get(i)? {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        self.pos = i + 1;
        Some(&self.text[start..i])
    }

    fn skip_value(&mut self) -> Option<()> {
        self.skip_whitespace();
        match self.peek()? {
            b'"' => self.skip_string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }

    /// Walks the value at the current position; on the first duplicate key,
    /// returns its offset, with `path` then leading to it (last step: the key).
    fn duplicate_key_in_value(&mut self, path: &mut Vec<Step<'a>>) -> Option<usize> {
        self.skip_whitespace();
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                let mut keys: Vec<&[u8]> = Vec::new();
                loop {
                    self.skip_whitespace();
                    if self.peek()? != b'"' {
                        self.pos += 1;
                        return None;
                    }
                    let key_start = self.pos;
                    let key = self.skip_string()?;
                    path.push(Step::Member(key));
                    if keys.contains(&key) {
                        return Some(key_start);
                    }
                    keys.push(key);
                    self.expect(b':')?;
                    let found = self.duplicate_key_in_value(path);
                    if found.is_some() {
                        return found;
                    }
                    path.pop();
                    self.skip_whitespace();
                    if self.peek()? == b'}' {
                        self.pos += 1;
                        return None;
                    }
                    self.expect(b',')?;
                }
            }
            b'[' => {
                self.pos += 1;
                for index in 0.. {
                    self.skip_whitespace();
                    if self.peek()? == b']' {
                        self.pos += 1;
                        return None;
                    }
                    path.push(Step::Element(index));
                    let found = self.duplicate_key_in_value(path);
                    if found.is_some() {
                        return found;
                    }
                    path.pop();
                    self.skip_whitespace();
                    if self.peek()? == b',' {
                        self.pos += 1;
                    }
                }
                None
            }
            _ => {
                self.skip_value()?;
                None
            }
        }
    }

    /// From the start of an array, moves to the start of element `index`.
    fn enter_element(&mut self, index: usize) -> Option<()> {
        self.expect(b'[')?;
        for _ in 0..index {
            self.skip_value()?;
            self.expect(b',')?;
        }
        self.skip_whitespace();
        (self.peek()? != b']').then_some(())
    }

    /// From the start of an object, moves to the value of member `key`.
    fn enter_member(&mut self, key: &[u8]) -> Option<()> {
        self.expect(b'{')?;
        loop {
            self.skip_whitespace();
            if self.peek()? != b'"' {
                return None;
            }
            let raw = self.skip_string()?;
            let matches = if raw.contains(&b'\\') {
                let mut quoted = Vec::with_capacity(raw.len() + 2);
                quoted.push(b'"');
                quoted.extend_from_slice(raw);
                quoted.push(b'"');
                serde_json::from_slice::<String>(&quoted).is_ok_and(|decoded| decoded.as_bytes() == key)
            } else {
                raw == key
            };
            self.expect(b':')?;
            self.skip_whitespace();
            if matches {
                return Some(());
            }
            self.skip_value()?;
            self.expect(b',')?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(text: &str, steps: &[&str]) -> (usize, usize) {
        let steps = steps.iter().map(|step| match step.parse::<usize>() {
            Ok(index) => Step::Element(index),
            Err(_) => Step::Member(step.as_bytes()),
        });
        locate_steps(text.as_bytes(), steps)
    }

    #[test]
    fn finds_nested_members_and_elements() {
        let text = "{\n  \"a\": [1, {\"x\": \"]}\"},\n    {\"b\": true}],\n  \"c\": 2\n}";
        assert_eq!(position(text, &["a", "2", "b"]), (3, 11));
        assert_eq!(position(text, &["c"]), (4, 8));
    }

    #[test]
    fn stops_at_the_deepest_existing_value() {
        let text = "{\"a\": {\"b\": 1}}";
        assert_eq!(position(text, &["a", "missing"]), (1, 7));
        assert_eq!(position(text, &["a", "b", "0"]), (1, 13));
    }

    #[test]
    fn finds_duplicate_keys_at_any_depth() {
        assert_eq!(find_duplicate_key(br#"{"a": [1, {"b": {}, "c": [{}]}], "d": "}"}"#), None);
        let text = b"{\"a\": [{\"x\": 1},\n {\"x\": 1, \"y\": {}, \"x\": 2}]}";
        assert_eq!(find_duplicate_key(text), Some(("a[1].x".to_string(), 2, 20)));
        assert_eq!(find_duplicate_key(br#"{"k": 1, "k": 1}"#), Some(("k".to_string(), 1, 10)));
    }

    #[test]
    fn decodes_escaped_keys() {
        let text = r#"{"k\u0065y": 5}"#;
        assert_eq!(position(text, &["key"]), (1, 14));
    }
}
