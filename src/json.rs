//! JSON (RFC 8259) without a heap: [`parse`] checks a whole document once, strictly, and
//! gives its root [`Value`]; a value is a place in the document, and looking into it scans the
//! bytes again (image configs, manifests and OCI's config.json are a few KiB, read a few times).
//!
//! Strict means what RFC 8259 says and nothing more: one value with whitespace around it, no
//! trailing commas or garbage, numbers by the grammar (no leading zeros, `+`, `.5`, NaN),
//! strings valid UTF-8 without raw control characters, escapes complete and no lone UTF-16
//! surrogate (`\ud800` has no UTF-8 form). Nesting deeper than [`MAX_DEPTH`] is an error, not
//! a deep stack: the check is one loop with a bit per open bracket, and the scans after it
//! count brackets, so nothing here recurses.
//!
//! Strings are kept as their raw bytes ([`Str`]) and unescaped only on demand: compared
//! ([`Str::is`]), copied out ([`Str::unescape_into`]), or rewritten in place into a C string
//! ([`unescape_in_place`]).

/// The most brackets open at once. Image configs and OCI's config.json need fewer than ten.
pub const MAX_DEPTH: u32 = 64;

/// Why a document was refused: where (a byte offset into it) and what, in a few words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub reason: &'static str,
}

/// What a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

/// A value of a document [`parse`] accepted: the document and where the value starts in it.
#[derive(Clone, Copy)]
pub struct Value<'a> {
    doc: &'a [u8],
    at: usize,
}

/// A string's raw bytes, between its quotes, escapes as written.
#[derive(Clone, Copy)]
pub struct Str<'a> {
    raw: &'a [u8],
    start: usize,
}

/// Checks all of `doc` and gives its root value.
pub fn parse(doc: &[u8]) -> Result<Value<'_>, JsonError> {
    let d = doc;
    let root = ws(d, 0);
    let mut i = root;
    // Bit k: whether the bracket open at depth k + 1 (counted from the innermost) is `{`.
    let mut objects: u64 = 0;
    let mut depth = 0;
    'value: loop {
        // A value starts at i.
        let b = at(d, i);
        match b {
            b'[' | b'{' => {
                if depth == MAX_DEPTH {
                    return Err(error(i, "nested too deep"));
                }
                depth += 1;
                objects = objects << 1 | (b == b'{') as u64;
                i = ws(d, i + 1);
                // Unless it is empty (`]` is `[` + 2, `}` is `{` + 2), a member follows.
                if at(d, i) != b + 2 {
                    if b == b'{' {
                        i = key(d, i)?;
                    }
                    continue 'value;
                }
            }
            b'"' => i = string(d, i)?,
            b't' | b'f' | b'n' => {
                let word: &[u8] = match b {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if d.get(i..i + word.len()) != Some(word) {
                    return Err(error(i, "expected a value"));
                }
                i += word.len();
            }
            b'-' | b'0'..=b'9' => i = number(d, i)?,
            _ => return Err(error(i, "expected a value")),
        }
        // A value ended before i (or i is at the end of an empty array or object): a comma
        // and the next member, or the end of the innermost bracket, or of the document.
        loop {
            i = ws(d, i);
            if depth == 0 {
                if i != d.len() {
                    return Err(error(i, "trailing characters"));
                }
                return Ok(Value { doc, at: root });
            }
            let object = objects & 1 == 1;
            let c = at(d, i);
            if c == b',' {
                i = ws(d, i + 1);
                if object {
                    i = key(d, i)?;
                }
                continue 'value;
            }
            if c != if object { b'}' } else { b']' } {
                return Err(error(i, "expected , or a closing bracket"));
            }
            depth -= 1;
            objects >>= 1;
            i += 1;
        }
    }
}

fn error(offset: usize, reason: &'static str) -> JsonError {
    JsonError { offset, reason }
}

/// The byte at i, or 0 past the end (0 is nothing JSON has outside strings).
fn at(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

/// i moved past whitespace.
fn ws(d: &[u8], mut i: usize) -> usize {
    while matches!(at(d, i), b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// An object's key at i, its colon and the whitespace after: where the member's value starts.
fn key(d: &[u8], i: usize) -> Result<usize, JsonError> {
    if at(d, i) != b'"' {
        return Err(error(i, "expected a string key"));
    }
    let i = ws(d, string(d, i)?);
    if at(d, i) != b':' {
        return Err(error(i, "expected :"));
    }
    Ok(ws(d, i + 1))
}

/// The string whose opening quote is at i: where it ends (after its closing quote).
fn string(d: &[u8], mut i: usize) -> Result<usize, JsonError> {
    i += 1;
    while at(d, i) != b'"' {
        i = unit(d, i).map_err(|reason| error(i, reason))?.0;
    }
    Ok(i + 1)
}

/// The number at i: where it ends.
fn number(d: &[u8], i: usize) -> Result<usize, JsonError> {
    number_end(d, i).ok_or(error(i, "invalid number"))
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
fn number_end(d: &[u8], mut i: usize) -> Option<usize> {
    if at(d, i) == b'-' {
        i += 1;
    }
    let start = i;
    i = digits(d, i)?;
    if at(d, start) == b'0' && i > start + 1 {
        return None;
    }
    if at(d, i) == b'.' {
        i = digits(d, i + 1)?;
    }
    if at(d, i) | 0x20 == b'e' {
        i += 1;
        if matches!(at(d, i), b'+' | b'-') {
            i += 1;
        }
        i = digits(d, i)?;
    }
    Some(i)
}

/// One or more digits at i: where they end.
fn digits(d: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while at(d, i).is_ascii_digit() {
        i += 1;
    }
    (i > start).then_some(i)
}

const BAD_UTF8: &str = "invalid UTF-8";
const BAD_ESCAPE: &str = "invalid escape";
const SURROGATE: &str = "lone surrogate";

/// One character of a string's contents at i: where it ends and its code point. An escape
/// (`\n`, `\u00e9`, a surrogate pair) or one UTF-8 sequence, checked (no overlong forms, no
/// surrogates, nothing past U+10FFFF), so that UTF-8 written back from the code point is
/// the same bytes. Never more bytes out than in, which is what lets [`unescape_in_place`]
/// work. Checks whatever it is given: it is also what reads strings after [`parse`].
fn unit(s: &[u8], i: usize) -> Result<(usize, u32), &'static str> {
    let b = *s.get(i).ok_or("unterminated string")?;
    if b == b'\\' {
        return escape(s, i);
    }
    if b < 0x20 {
        return Err("control character in string");
    }
    if b < 0x80 {
        return Ok((i + 1, b as u32));
    }
    let (n, least) = match b {
        0xC2..=0xDF => (2, 0x80),
        0xE0..=0xEF => (3, 0x800),
        0xF0..=0xF4 => (4, 0x10000),
        _ => return Err(BAD_UTF8),
    };
    let mut cp = (b & (0x7F >> n)) as u32;
    for k in 1..n {
        let c = at(s, i + k);
        if c & 0xC0 != 0x80 {
            return Err(BAD_UTF8);
        }
        cp = cp << 6 | (c & 0x3F) as u32;
    }
    if cp < least || cp > 0x10FFFF || is_surrogate(cp) {
        return Err(BAD_UTF8);
    }
    Ok((i + n, cp))
}

fn is_surrogate(cp: u32) -> bool {
    (0xD800..0xE000).contains(&cp)
}

/// The escape at i (a backslash): where it ends and its code point.
fn escape(s: &[u8], i: usize) -> Result<(usize, u32), &'static str> {
    let e = at(s, i + 1);
    let c = match e {
        b'"' | b'\\' | b'/' => e,
        b'b' => 8,
        b'f' => 12,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => return hex_escape(s, i),
        _ => return Err(BAD_ESCAPE),
    };
    Ok((i + 2, c as u32))
}

/// `\uXXXX` at i, or a surrogate pair of two: where it ends and its code point.
fn hex_escape(s: &[u8], i: usize) -> Result<(usize, u32), &'static str> {
    let high = hex4(s, i + 2)?;
    if !is_surrogate(high) {
        return Ok((i + 6, high));
    }
    if high >= 0xDC00 || s.get(i + 6..i + 8) != Some(b"\\u") {
        return Err(SURROGATE);
    }
    let low = hex4(s, i + 8)?;
    if !(0xDC00..0xE000).contains(&low) {
        return Err(SURROGATE);
    }
    Ok((i + 12, 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)))
}

fn hex4(s: &[u8], i: usize) -> Result<u32, &'static str> {
    let mut v = 0;
    for k in i..i + 4 {
        v = v << 4 | (at(s, k) as char).to_digit(16).ok_or(BAD_ESCAPE)?;
    }
    Ok(v)
}

/// A code point as UTF-8: its bytes and how many.
fn utf8(cp: u32) -> ([u8; 4], usize) {
    let mut out = [cp as u8; 4];
    if cp < 0x80 {
        return (out, 1);
    }
    let n = if cp < 0x800 {
        2
    } else if cp < 0x10000 {
        3
    } else {
        4
    };
    let mut c = cp;
    for k in (1..n).rev() {
        out[k] = 0x80 | (c & 0x3F) as u8;
        c >>= 6;
    }
    // 0xC0, 0xE0 or 0xF0: n ones then a zero.
    out[0] = (0xF00 >> n) as u8 | c as u8;
    (out, n)
}

/// The end of the value at i in a document [`parse`] accepted: strings skipped whole,
/// brackets counted, then the rest of a number or a word. Stays in bounds whatever the bytes.
fn skip(d: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&b) = d.get(i) {
        i += 1;
        match b {
            b'"' => {
                while i < d.len() && d[i] != b'"' {
                    i += 1 + (d[i] == b'\\') as usize;
                }
                i += 1;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 {
            break;
        }
    }
    while at(d, i).is_ascii_alphanumeric() || matches!(at(d, i), b'+' | b'-' | b'.') {
        i += 1;
    }
    i
}

impl<'a> Value<'a> {
    pub fn kind(self) -> Kind {
        match at(self.doc, self.at) {
            b'n' => Kind::Null,
            b't' | b'f' => Kind::Bool,
            b'"' => Kind::String,
            b'[' => Kind::Array,
            b'{' => Kind::Object,
            _ => Kind::Number,
        }
    }

    /// Where the value starts in the document (for messages).
    pub fn offset(self) -> usize {
        self.at
    }

    /// The value's text as written (a number's digits, a string with its quotes).
    pub fn raw(self) -> &'a [u8] {
        self.doc.get(self.at..skip(self.doc, self.at)).unwrap_or_default()
    }

    /// An object's member named `key` (unescaped, compared byte for byte). A name given twice
    /// is its last value, as JavaScript, Go and Python read it.
    pub fn get(self, key: &[u8]) -> Option<Value<'a>> {
        let mut found = None;
        for (name, value) in self.entries() {
            if name.is(key) {
                found = Some(value);
            }
        }
        found
    }

    /// Members of objects nested in one another: `path(&[b"config", b"Env"])`.
    pub fn path(self, keys: &[&[u8]]) -> Option<Value<'a>> {
        keys.iter().try_fold(self, |value, key| value.get(key))
    }

    /// An object's members in order (none for anything else).
    pub fn entries(self) -> Entries<'a> {
        Entries(self.members(b'{'))
    }

    /// An array's items in order (none for anything else).
    pub fn items(self) -> Items<'a> {
        Items(self.members(b'['))
    }

    fn members(self, open: u8) -> Members<'a> {
        let d = self.doc;
        let mut next = d.len();
        if at(d, self.at) == open {
            let i = ws(d, self.at + 1);
            if at(d, i) != open + 2 {
                next = i;
            }
        }
        Members { doc: d, next, object: open == b'{' }
    }

    pub fn as_str(self) -> Option<Str<'a>> {
        if at(self.doc, self.at) != b'"' {
            return None;
        }
        let start = self.at + 1;
        let raw = self.doc.get(start..skip(self.doc, self.at) - 1)?;
        Some(Str { raw, start })
    }

    pub fn as_bool(self) -> Option<bool> {
        match at(self.doc, self.at) {
            b't' => Some(true),
            b'f' => Some(false),
            _ => None,
        }
    }

    /// A number written as a non-negative integer (no fraction, no exponent) that fits.
    pub fn as_u64(self) -> Option<u64> {
        match self.integer()? {
            (true, n) if n != 0 => None,
            (_, n) => Some(n),
        }
    }

    /// A number written as an integer (no fraction, no exponent) that fits.
    pub fn as_i64(self) -> Option<i64> {
        match self.integer()? {
            (true, n) => 0i64.checked_sub_unsigned(n),
            (false, n) => i64::try_from(n).ok(),
        }
    }

    /// Sign and magnitude of an integer; None for anything else or past u64.
    fn integer(self) -> Option<(bool, u64)> {
        let raw = self.raw();
        let (negative, digits) = match raw {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, raw),
        };
        let mut n: u64 = 0;
        for &c in digits {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_add((c - b'0') as u64)?;
        }
        Some((negative, n))
    }
}

/// Where the members of an array or object are: `next` is the first byte of the next one
/// (a key in an object), or the document's length when there are no more.
#[derive(Clone, Copy)]
struct Members<'a> {
    doc: &'a [u8],
    next: usize,
    object: bool,
}

impl Members<'_> {
    /// The next member: where it starts and where its value starts.
    fn step(&mut self) -> Option<(usize, usize)> {
        let d = self.doc;
        let start = self.next;
        if start >= d.len() {
            return None;
        }
        let value = if self.object { ws(d, ws(d, skip(d, start)) + 1) } else { start };
        let end = ws(d, skip(d, value));
        self.next = if at(d, end) == b',' { ws(d, end + 1) } else { d.len() };
        Some((start, value))
    }
}

/// An object's members: see [`Value::entries`].
#[derive(Clone, Copy)]
pub struct Entries<'a>(Members<'a>);

impl<'a> Iterator for Entries<'a> {
    type Item = (Str<'a>, Value<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = self.0.step()?;
        let doc = self.0.doc;
        Some((Value { doc, at: key }.as_str()?, Value { doc, at: value }))
    }
}

/// An array's items: see [`Value::items`].
#[derive(Clone, Copy)]
pub struct Items<'a>(Members<'a>);

impl<'a> Iterator for Items<'a> {
    type Item = Value<'a>;
    fn next(&mut self) -> Option<Self::Item> {
        let (_, at) = self.0.step()?;
        Some(Value { doc: self.0.doc, at })
    }
}

impl<'a> Str<'a> {
    /// The bytes between the quotes, escapes as written.
    pub fn raw(self) -> &'a [u8] {
        self.raw
    }

    /// Where those bytes are in the document: from `start` up to the closing quote at `end`
    /// (what [`unescape_in_place`] takes).
    pub fn span(self) -> (usize, usize) {
        (self.start, self.start + self.raw.len())
    }

    /// Each byte of the unescaped contents (UTF-8) to `f`, while it says true. False when `f`
    /// stopped it (or on a broken escape, which a parsed document does not have). `dyn`: one
    /// copy of the loop in the binary for all its callers.
    fn each(&self, f: &mut dyn FnMut(u8) -> bool) -> bool {
        let mut i = 0;
        while i < self.raw.len() {
            let Ok((next, cp)) = unit(self.raw, i) else {
                return false;
            };
            let (bytes, n) = utf8(cp);
            if !bytes[..n].iter().all(|&b| f(b)) {
                return false;
            }
            i = next;
        }
        true
    }

    /// Whether the unescaped contents are `text`.
    pub fn is(&self, text: &[u8]) -> bool {
        let mut k = 0;
        self.each(&mut |b| {
            k += 1;
            text.get(k - 1) == Some(&b)
        }) && k == text.len()
    }

    /// How many bytes the unescaped contents are.
    pub fn len_unescaped(&self) -> usize {
        let mut n = 0;
        self.each(&mut |_| {
            n += 1;
            true
        });
        n
    }

    /// Whether the contents hold a NUL (`\u0000`), which no C string can.
    pub fn has_nul(&self) -> bool {
        !self.each(&mut |b| b != 0)
    }

    /// The unescaped contents (UTF-8) copied to the start of `out`: how many bytes, or None
    /// when they do not fit.
    pub fn unescape_into(&self, out: &mut [u8]) -> Option<usize> {
        let mut k = 0;
        self.each(&mut |b| match out.get_mut(k) {
            Some(slot) => {
                *slot = b;
                k += 1;
                true
            }
            None => false,
        })
        .then_some(k)
    }
}

/// Rewrites the string contents at `buf[start..end]` (a [`Str::span`] of a document parsed
/// from these bytes) unescaped, in place, and ends them with a NUL: a C string at `start`.
/// Gives its length without the NUL, or None when the contents hold a NUL of their own
/// (`\u0000`) or are not a valid string. Unescaped is never longer, and the NUL goes at the
/// latest over the closing quote at `end`, so other strings' spans stay as they were; the
/// bytes are no longer JSON afterwards, so take every span before rewriting any.
pub fn unescape_in_place(buf: &mut [u8], start: usize, end: usize) -> Option<usize> {
    let mut i = start;
    let mut w = start;
    while i < end {
        let (next, cp) = unit(buf.get(..end)?, i).ok()?;
        if cp == 0 {
            return None;
        }
        let (bytes, n) = utf8(cp);
        for &b in &bytes[..n] {
            *buf.get_mut(w)? = b;
            w += 1;
        }
        i = next;
    }
    *buf.get_mut(w)? = 0;
    Some(w - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(doc: &[u8]) -> JsonError {
        match parse(doc) {
            Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(doc)),
            Err(e) => e,
        }
    }

    #[test]
    fn valid_documents() {
        let docs: &[&[u8]] = &[
            b"null",
            b" true ",
            b"false",
            b"0",
            b"-0",
            b"-0.0e+0",
            b"1E-2",
            b"123.456e789",
            b"\"\"",
            b"[]",
            b"{}",
            b" \t\r\n[ ] \n",
            b"[[], {}, [{}], {\"a\": []}]",
            b"{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}",
            b"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"]",
            "[\"caf\u{e9} \u{20ac} \u{1f600} \u{10ffff} \u{7f}\"]".as_bytes(),
            b"{\"\":0}",
            b"{\"a\":1,\"a\":2}",
            // Numbers no machine type holds are still numbers.
            b"123456789012345678901234567890",
            b"1e999999999",
            b"-1e-999999999",
        ];
        for doc in docs {
            if let Err(e) = parse(doc) {
                panic!("{:?}: {e:?}", String::from_utf8_lossy(doc));
            }
        }
        // Exactly MAX_DEPTH brackets deep is fine.
        let deep = [&[b'['; 64][..], &[b']'; 64]].concat();
        assert!(parse(&deep).is_ok());
    }

    #[test]
    fn invalid_documents() {
        let cases: &[(&[u8], usize, &str)] = &[
            (b"", 0, "expected a value"),
            (b"   ", 3, "expected a value"),
            (b"[1,]", 3, "expected a value"),
            (b"{\"a\":1,}", 7, "expected a string key"),
            (b"[,1]", 1, "expected a value"),
            (b"{,}", 1, "expected a string key"),
            (b"[1 2]", 3, "expected , or a closing bracket"),
            (b"{\"a\" 1}", 5, "expected :"),
            (b"{\"a\":1 \"b\":2}", 7, "expected , or a closing bracket"),
            (b"{a:1}", 1, "expected a string key"),
            (b"{1:1}", 1, "expected a string key"),
            (b"[1}", 2, "expected , or a closing bracket"),
            (b"{\"a\":1]", 6, "expected , or a closing bracket"),
            (b"[", 1, "expected a value"),
            (b"[1", 2, "expected , or a closing bracket"),
            (b"{\"a\":", 5, "expected a value"),
            (b"1 2", 2, "trailing characters"),
            (b"[]]", 2, "trailing characters"),
            (b"{}x", 2, "trailing characters"),
            (b"null\0", 4, "trailing characters"),
            (b"nul", 0, "expected a value"),
            (b"True", 0, "expected a value"),
            (b"nulll", 4, "trailing characters"),
            (b"NaN", 0, "expected a value"),
            (b"[Infinity]", 1, "expected a value"),
            (b"'a'", 0, "expected a value"),
            (b"\xef\xbb\xbf{}", 0, "expected a value"),
            // Numbers by the grammar.
            (b"01", 0, "invalid number"),
            (b"-01", 0, "invalid number"),
            (b"00", 0, "invalid number"),
            (b"+1", 0, "expected a value"),
            (b".5", 0, "expected a value"),
            (b"1.", 0, "invalid number"),
            (b"1.e5", 0, "invalid number"),
            (b"1e", 0, "invalid number"),
            (b"1e+", 0, "invalid number"),
            (b"-", 0, "invalid number"),
            (b"-a", 0, "invalid number"),
            (b"[1, -01]", 4, "invalid number"),
            (b"0x10", 1, "trailing characters"),
            (b"1.5.5", 3, "trailing characters"),
            (b"[1e5e5]", 4, "expected , or a closing bracket"),
            // Strings.
            (b"\"abc", 4, "unterminated string"),
            (b"[\"a\\\"]", 6, "unterminated string"),
            (b"\"a\nb\"", 2, "control character in string"),
            (b"\"a\tb\"", 2, "control character in string"),
            (b"\"\0\"", 1, "control character in string"),
            (b"\"\x1f\"", 1, "control character in string"),
            (b"\"\\x41\"", 1, "invalid escape"),
            (b"\"\\'\"", 1, "invalid escape"),
            (b"\"\\U0041\"", 1, "invalid escape"),
            (b"\"\\u004\"", 1, "invalid escape"),
            (b"\"\\u00G0\"", 1, "invalid escape"),
            (b"\"\\", 1, "invalid escape"),
            (b"\"\\ud800\"", 1, "lone surrogate"),
            (b"\"\\udc00\"", 1, "lone surrogate"),
            (b"\"\\ud800\\u0041\"", 1, "lone surrogate"),
            (b"\"\\ud800\\ud800\"", 1, "lone surrogate"),
            (b"\"\\ud800x\"", 1, "lone surrogate"),
            (b"\"\\ude00\\ud83d\"", 1, "lone surrogate"),
            (b"\"\\udc00\\udc00\"", 1, "lone surrogate"),
            (b"\"\\ud83d\\ude0\"", 1, "invalid escape"),
            (b"\"a\xc3", 2, BAD_UTF8),
            // Too deep: an error, not a stack overflow.
            (&[b'['; 65], 64, "nested too deep"),
            (&[b'{'; 65], 1, "expected a string key"),
        ];
        // UTF-8: stray continuation, overlong, truncated, surrogate, past U+10FFFF, 0xFF.
        let bad_utf8: &[&[u8]] = &[
            b"\x80",
            b"\xc0\xaf",
            b"\xc1\xbf",
            b"\xe0\x80\xaf",
            b"\xf0\x80\x80\xaf",
            b"\xc3",
            b"\xe2\x82",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\xf5\x80\x80\x80",
            b"\xff",
        ];
        let quoted: Vec<_> = bad_utf8.iter().map(|s| [b"\"", *s, b"\""].concat()).collect();
        let cases = cases.iter().copied().chain(quoted.iter().map(|s| (&s[..], 1, BAD_UTF8)));
        for (doc, offset, reason) in cases {
            let e = refused(doc);
            assert_eq!((e.offset, e.reason), (offset, reason), "{:?}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn deep_nesting_is_an_error() {
        for open in [b'[', b'{'] {
            let mut doc = Vec::new();
            for _ in 0..10_000 {
                doc.push(open);
                if open == b'{' {
                    doc.extend_from_slice(b"\"k\":");
                }
            }
            let e = refused(&doc);
            assert_eq!(e.reason, "nested too deep");
        }
        let mut doc = [&[b'['; 10_000][..], &[b']'; 10_000]].concat();
        assert_eq!(refused(&doc).offset, 64);
        doc.truncate(10_000);
        assert_eq!(refused(&doc).offset, 64);
    }

    #[test]
    fn numbers() {
        // (number, as_u64, as_i64)
        let table: &[(&str, Option<u64>, Option<i64>)] = &[
            ("0", Some(0), Some(0)),
            ("-0", Some(0), Some(0)),
            ("42", Some(42), Some(42)),
            ("-42", None, Some(-42)),
            ("18446744073709551615", Some(u64::MAX), None),
            ("18446744073709551616", None, None),
            ("9223372036854775807", Some(i64::MAX as u64), Some(i64::MAX)),
            ("9223372036854775808", Some(1 << 63), None),
            ("-9223372036854775808", None, Some(i64::MIN)),
            ("-9223372036854775809", None, None),
            ("100000000000000000000000000000", None, None),
            ("1.0", None, None),
            ("1e2", None, None),
            ("-1E-2", None, None),
            ("\"7\"", None, None),
            ("true", None, None),
            ("null", None, None),
            ("[1]", None, None),
        ];
        let doc = format!("[{}]", table.iter().map(|row| row.0).collect::<Vec<_>>().join(" , "));
        let v = parse(doc.as_bytes()).unwrap();
        assert_eq!(v.items().count(), table.len());
        for (item, &(text, unsigned, signed)) in v.items().zip(table) {
            assert_eq!(item.raw(), text.as_bytes());
            assert_eq!((item.as_u64(), item.as_i64()), (unsigned, signed), "{text}");
            let number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
            assert_eq!(item.kind() == Kind::Number, number, "{text}");
        }
    }

    fn unescaped(s: Str) -> Vec<u8> {
        let mut out = vec![0; s.len_unescaped()];
        assert_eq!(s.unescape_into(&mut out), Some(out.len()));
        out
    }

    #[test]
    fn escapes_and_unicode() {
        let doc = r#"{"a\"b":"\"\\\/\b\f\n\r\t", "\u0041\u00e9\u20ac\ud83d\ude00":"é€😀",
            "nul":"a\u0000b", "k":"plain"}"#
            .as_bytes();
        let v = parse(doc).unwrap();
        let all: Vec<_> = v.entries().collect();
        assert_eq!(all.len(), 4);
        assert!(all[0].0.is(b"a\"b"));
        assert_eq!(all[0].0.raw(), br#"a\"b"#);
        assert_eq!(unescaped(all[0].1.as_str().unwrap()), b"\"\\/\x08\x0c\n\r\t");
        assert!(all[1].0.is("Aé€😀".as_bytes()));
        assert!(!all[1].0.is("Aé€😀x".as_bytes()));
        assert!(!all[1].0.is("Aé€".as_bytes()));
        assert_eq!(all[1].0.len_unescaped(), "Aé€😀".len());
        assert_eq!(unescaped(all[1].1.as_str().unwrap()), "é€😀".as_bytes());
        assert_eq!(v.get("Aé€😀".as_bytes()).unwrap().raw(), "\"é€😀\"".as_bytes());
        assert_eq!(v.get(b"a\"b").unwrap().offset(), 8);

        let nul = v.get(b"nul").unwrap().as_str().unwrap();
        assert!(nul.has_nul());
        assert!(!v.get(b"k").unwrap().as_str().unwrap().has_nul());
        assert_eq!(unescaped(nul), b"a\0b");

        // unescape_into: None when the output is too small, nothing past what it reports.
        let s = all[1].0;
        let mut small = [0u8; 9];
        assert_eq!(s.unescape_into(&mut small), None);
        let mut exact = [0u8; 10];
        assert_eq!(s.unescape_into(&mut exact), Some(10));
        assert_eq!(Str { raw: b"", start: 0 }.unescape_into(&mut []), Some(0));

        // In place, every string at once: spans first, then rewrite each into a C string.
        let mut buf = doc.to_vec();
        let spans: Vec<_> = v.entries().flat_map(|(k, v)| [k.span(), v.as_str().unwrap().span()]).collect();
        let want: Vec<_> =
            v.entries().flat_map(|(k, v)| [unescaped(k), unescaped(v.as_str().unwrap())]).collect();
        for ((start, end), want) in spans.into_iter().zip(want) {
            let got = unescape_in_place(&mut buf, start, end);
            if want.contains(&0) {
                assert_eq!(got, None);
            } else {
                assert_eq!(got, Some(want.len()));
                assert_eq!(&buf[start..start + want.len() + 1], [&want[..], b"\0"].concat());
            }
        }
        // Bounds it is not given are refused, not a panic.
        assert_eq!(unescape_in_place(&mut [b'"'], 0, 5), None);
        assert_eq!(unescape_in_place(&mut [b'a'], 0, 1), None);
        assert_eq!(unescape_in_place(&mut [b'a', b'"'], 0, 1), Some(1));
        assert_eq!(unescape_in_place(&mut b"\\ud800\"".to_owned(), 0, 6), None);
    }

    #[test]
    fn lookups_and_other_kinds() {
        let v = parse(br#" {"a": {"b": {"c": [1, {"d": "x"}]}}, "a2": 2, "a": {"b": 3}} "#).unwrap();
        // The last "a" wins.
        assert_eq!(v.path(&[b"a", b"b"]).unwrap().as_u64(), Some(3));
        assert!(v.path(&[b"a", b"b", b"c"]).is_none());
        assert!(v.path(&[]).is_some_and(|root| root.kind() == Kind::Object));
        assert_eq!(v.entries().count(), 3);
        assert_eq!(v.items().count(), 0);
        let first = v.entries().next().unwrap().1;
        let c = first.path(&[b"b", b"c"]).unwrap();
        assert_eq!(c.kind(), Kind::Array);
        assert_eq!(c.entries().count(), 0);
        assert!(c.get(b"0").is_none());
        let d = c.items().nth(1).unwrap().get(b"d").unwrap();
        assert!(d.as_str().unwrap().is(b"x"));
        assert_eq!(d.items().count() + d.entries().count(), 0);
        assert_eq!((d.as_bool(), d.as_u64(), d.as_i64()), (None, None, None));
        assert!(v.get(b"a2").unwrap().as_str().is_none());
        let empty = parse(b"[ {  } , [\n] ]").unwrap();
        let kids: Vec<_> = empty.items().collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].entries().count() + kids[1].items().count(), 0);
        assert_eq!(parse(b" \"s\" ").unwrap().as_str().unwrap().raw(), b"s");
    }

    const DOCKER_CONFIG: &[u8] = br#"{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"nginx:nginx","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NGINX_VERSION=1.25.3","GREETING=caf\u00e9 \"quoted\" \u0026 \u003cb\u003e"],"Cmd":["nginx","-g","daemon off;"],"Image":"sha256:7c4bd3b1b8b1e3b0f7e6f8b2c1f3a5e9d7b1c3e5f7a9b1d3c5e7f9a1b3d5c7e9","Volumes":null,"WorkingDir":"/srv/www","Entrypoint":["/docker-entrypoint.sh"],"OnBuild":null,"Labels":{"maintainer":"NGINX Docker Maintainers \u003cdocker-maint@nginx.com\u003e"},"StopSignal":"SIGQUIT"},"container":"8b0e0b5a6f4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e","created":"2023-11-01T02:17:46.123456789Z","docker_version":"20.10.23","history":[{"created":"2023-11-01T00:20:27.118451302Z","created_by":"/bin/sh -c #(nop) ADD file:d7b4e4bbd4f6ba4ea1e1a4cbb53e8f7ff1e4c5e0d31ae1b49a96f7f3a2bd7df0 in / "},{"created":"2023-11-01T00:20:27.564352221Z","created_by":"/bin/sh -c #(nop)  CMD [\"bash\"]","empty_layer":true},{"created":"2023-11-01T02:17:46.123456789Z","created_by":"/bin/sh -c #(nop)  ENTRYPOINT [\"/docker-entrypoint.sh\"]","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:ec983b16636050e69677eb81537e955ab927757c23aaf73971ecf5f71fcc262a","sha256:fe3a6c4e23b0fca5a26be9c2f1a9d87c3e1b4d2b5a6e8f8f3d5c1e7a9b0d2c4e"]}}"#;

    // buildah's OCI config, indented with tabs and CRLF line ends (what an editor might leave).
    const OCI_CONFIG: &[u8] = b"{\r\n\t\"created\": \"2024-02-03T10:11:12.5Z\",\r\n\t\"architecture\": \"amd64\",\r\n\t\"os\": \"linux\",\r\n\t\"config\": {\r\n\t\t\"User\": \"1000:1000\",\r\n\t\t\"Env\": [\r\n\t\t\t\"PATH=/usr/local/bin:/usr/bin:/bin\",\r\n\t\t\t\"LANG=C.UTF-8\"\r\n\t\t],\r\n\t\t\"Entrypoint\": [\r\n\t\t\t\"/usr/bin/python3\",\r\n\t\t\t\"-u\"\r\n\t\t],\r\n\t\t\"Cmd\": [\r\n\t\t\t\"app.py\"\r\n\t\t],\r\n\t\t\"WorkingDir\": \"/app\",\r\n\t\t\"Labels\": {\r\n\t\t\t\"io.buildah.version\": \"1.33.7\"\r\n\t\t}\r\n\t},\r\n\t\"rootfs\": {\r\n\t\t\"type\": \"layers\",\r\n\t\t\"diff_ids\": [\r\n\t\t\t\"sha256:3f4ca61aafcd4fc07267a105067db35c0f0ac630e1970f3cd0c7bf552780e985\"\r\n\t\t]\r\n\t},\r\n\t\"history\": [\r\n\t\t{\r\n\t\t\t\"created\": \"2024-02-03T10:11:12.5Z\",\r\n\t\t\t\"created_by\": \"/bin/sh -c #(nop) ADD file:abc in / \"\r\n\t\t}\r\n\t]\r\n}\r\n";

    const OCI_INDEX: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:5b3b8c1e4a56d1d4f1c2a7c1c2b7b8d5e6f0a1b2c3d4e5f60718293a4b5c6d7e","size":529,"annotations":{"org.opencontainers.image.ref.name":"latest"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa1b8c1e4a56d1d4f1c2a7c1c2b7b8d5e6f0a1b2c3d4e5f60718293a4b5c6d7e","size":530,"annotations":{"io.containerd.image.name":"docker.io/library/busybox:1.36","org.opencontainers.image.ref.name":"1.36"},"platform":{"architecture":"amd64","os":"linux"}}]}"#;

    const OCI_MANIFEST: &[u8] = br#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json",
    "digest": "sha256:9d5226e6ce3fb6aee2822206a5ef85f38c303d2b37bfc894b419fca2c0501269",
    "size": 1457
  },
  "layers": [
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
      "digest": "sha256:1b9b7346fee72d7bd2b4cb95d64f8ac1e1a2a2e2d9f1d5f7c1a2b3c4d5e6f708",
      "size": 2152262
    },
    {
      "mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
      "digest": "sha256:2c9b7346fee72d7bd2b4cb95d64f8ac1e1a2a2e2d9f1d5f7c1a2b3c4d5e6f708",
      "size": 31
    }
  ]
}
"#;

    // `docker save`: before Docker 25, then from 25 on (blobs inside an OCI layout).
    const DOCKER_MANIFEST: &[u8] = br#"[{"Config":"9d5226e6ce3fb6aee2822206a5ef85f38c303d2b37bfc894b419fca2c0501269.json","RepoTags":["busybox:latest","busybox:1.36"],"Layers":["4a1f2e3d5c6b7a8998877665544332211ffeeddccbbaa00998877665544332211/layer.tar"]},{"Config":"blobs/sha256/ab5226e6ce3fb6aee2822206a5ef85f38c303d2b37bfc894b419fca2c0501269","RepoTags":null,"Layers":["blobs/sha256/1b9b7346fee72d7bd2b4cb95d64f8ac1e1a2a2e2d9f1d5f7c1a2b3c4d5e6f708","blobs/sha256/2c9b7346fee72d7bd2b4cb95d64f8ac1e1a2a2e2d9f1d5f7c1a2b3c4d5e6f708"],"LayerSources":{"sha256:1b9b7346fee72d7bd2b4cb95d64f8ac1e1a2a2e2d9f1d5f7c1a2b3c4d5e6f708":{"mediaType":"application/vnd.oci.image.layer.v1.tar","size":4403200,"digest":"sha256:1b9b7346fee72d7bd2b4cb95d64f8ac1e1a2a2e2d9f1d5f7c1a2b3c4d5e6f708"}}}]
"#;

    fn strings(v: Option<Value>) -> Vec<Vec<u8>> {
        let v = v.unwrap();
        assert_eq!(v.kind(), Kind::Array);
        v.items().map(|item| unescaped(item.as_str().unwrap())).collect()
    }

    fn text(v: Option<Value>) -> Vec<u8> {
        unescaped(v.unwrap().as_str().unwrap())
    }

    #[test]
    fn docker_image_config() {
        let v = parse(DOCKER_CONFIG).unwrap();
        let env = strings(v.path(&[b"config", b"Env"]));
        assert_eq!(env.len(), 3);
        assert_eq!(env[0], b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        assert_eq!(env[2], "GREETING=café \"quoted\" & <b>".as_bytes());
        assert_eq!(strings(v.path(&[b"config", b"Cmd"])), [&b"nginx"[..], b"-g", b"daemon off;"]);
        assert_eq!(strings(v.path(&[b"config", b"Entrypoint"])), [b"/docker-entrypoint.sh"]);
        assert_eq!(text(v.path(&[b"config", b"WorkingDir"])), b"/srv/www");
        assert_eq!(text(v.path(&[b"config", b"User"])), b"nginx:nginx");
        assert_eq!(v.path(&[b"config", b"Volumes"]).unwrap().kind(), Kind::Null);
        assert_eq!(v.path(&[b"config", b"Tty"]).unwrap().as_bool(), Some(false));
        assert!(v.path(&[b"config", b"Healthcheck"]).is_none());
        let diff_ids = strings(v.path(&[b"rootfs", b"diff_ids"]));
        assert_eq!(diff_ids.len(), 2);
        assert!(diff_ids[1].starts_with(b"sha256:fe3a6c4e"));
        let history: Vec<_> = v.get(b"history").unwrap().items().collect();
        assert_eq!(history.len(), 3);
        assert_eq!(history[1].get(b"empty_layer").unwrap().as_bool(), Some(true));
        assert_eq!(text(history[1].get(b"created_by")), b"/bin/sh -c #(nop)  CMD [\"bash\"]");
        assert!(history[0].get(b"empty_layer").is_none());
    }

    #[test]
    fn oci_image_config() {
        let v = parse(OCI_CONFIG).unwrap();
        let config = v.get(b"config").unwrap();
        assert_eq!(strings(config.get(b"Env")), [&b"PATH=/usr/local/bin:/usr/bin:/bin"[..], b"LANG=C.UTF-8"]);
        assert_eq!(strings(config.get(b"Entrypoint")), [&b"/usr/bin/python3"[..], b"-u"]);
        assert_eq!(strings(config.get(b"Cmd")), [b"app.py"]);
        assert_eq!(text(config.get(b"WorkingDir")), b"/app");
        assert_eq!(text(config.get(b"User")), b"1000:1000");
        assert_eq!(text(config.path(&[b"Labels", b"io.buildah.version"])), b"1.33.7");
        assert_eq!(strings(v.path(&[b"rootfs", b"diff_ids"])).len(), 1);
        assert_eq!(text(v.path(&[b"rootfs", b"type"])), b"layers");
    }

    #[test]
    fn oci_index_and_manifest() {
        let index = parse(OCI_INDEX).unwrap();
        assert_eq!(index.get(b"schemaVersion").unwrap().as_u64(), Some(2));
        let tagged = |tag: &[u8]| {
            index.get(b"manifests").unwrap().items().find(|m| {
                m.path(&[b"annotations", b"org.opencontainers.image.ref.name"])
                    .and_then(Value::as_str)
                    .is_some_and(|name| name.is(tag))
            })
        };
        let m = tagged(b"1.36").unwrap();
        assert!(text(m.get(b"digest")).starts_with(b"sha256:aa1b"));
        assert_eq!(m.get(b"size").unwrap().as_u64(), Some(530));
        assert_eq!(text(m.path(&[b"platform", b"os"])), b"linux");
        assert!(text(tagged(b"latest").unwrap().get(b"digest")).starts_with(b"sha256:5b3b"));
        assert!(tagged(b"1.3").is_none());

        let manifest = parse(OCI_MANIFEST).unwrap();
        assert_eq!(manifest.path(&[b"config", b"size"]).unwrap().as_u64(), Some(1457));
        let layers: Vec<_> = manifest.get(b"layers").unwrap().items().collect();
        assert_eq!(layers.len(), 2);
        assert_eq!(text(layers[1].get(b"mediaType")), b"application/vnd.oci.image.layer.v1.tar+zstd");
        assert_eq!(layers[0].get(b"size").unwrap().as_u64(), Some(2152262));
    }

    #[test]
    fn docker_archive_manifest() {
        let v = parse(DOCKER_MANIFEST).unwrap();
        let images: Vec<_> = v.items().collect();
        assert_eq!(images.len(), 2);
        assert_eq!(strings(images[0].get(b"RepoTags")), [&b"busybox:latest"[..], b"busybox:1.36"]);
        assert!(text(images[0].get(b"Config")).ends_with(b".json"));
        assert_eq!(strings(images[0].get(b"Layers")).len(), 1);
        assert_eq!(images[1].get(b"RepoTags").unwrap().kind(), Kind::Null);
        assert_eq!(strings(images[1].get(b"Layers")).len(), 2);
        let sources = images[1].get(b"LayerSources").unwrap();
        let (digest, source) = sources.entries().next().unwrap();
        assert!(digest.is(&text(source.get(b"digest"))));
        assert_eq!(source.get(b"size").unwrap().as_u64(), Some(4403200));
    }

    /// A parsed value written back out through the accessors, escaping what JSON needs.
    fn dump(v: Value, out: &mut Vec<u8>) {
        match v.kind() {
            Kind::Null => out.extend_from_slice(b"null"),
            Kind::Bool => out.extend_from_slice(if v.as_bool().unwrap() { b"true" } else { b"false" }),
            Kind::Number => {
                let raw = v.raw();
                assert!(!raw.is_empty());
                if let Some(n) = v.as_i64().filter(|&n| n >= 0) {
                    assert_eq!(v.as_u64(), Some(n as u64));
                }
                out.extend_from_slice(raw)
            }
            Kind::String => quote(v.as_str().unwrap(), out),
            Kind::Array => {
                out.push(b'[');
                for (k, item) in v.items().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    dump(item, out);
                }
                out.push(b']');
            }
            Kind::Object => {
                out.push(b'{');
                for (k, (name, value)) in v.entries().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    quote(name, out);
                    out.push(b':');
                    dump(value, out);
                }
                out.push(b'}');
            }
        }
    }

    fn quote(s: Str, out: &mut Vec<u8>) {
        let text = unescaped(s);
        let text = std::str::from_utf8(&text).expect("unescaped strings are UTF-8");
        assert!(s.is(text.as_bytes()));
        assert_eq!(s.has_nul(), text.contains('\0'));
        out.push(b'"');
        for c in text.chars() {
            match c {
                '"' | '\\' => out.extend_from_slice(&[b'\\', c as u8]),
                '\0'..='\x1f' => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
                _ => out.extend_from_slice(c.to_string().as_bytes()),
            }
        }
        out.push(b'"');
    }

    #[test]
    fn random_mutations_never_panic() {
        let seeds: &[&[u8]] = &[
            DOCKER_CONFIG,
            OCI_CONFIG,
            OCI_INDEX,
            OCI_MANIFEST,
            DOCKER_MANIFEST,
            br#"[1,-0.5e+3,"\u00e9\ud83d\ude00\n",{"a":[[]],"b":null},true,false,"caf\u00e9"]"#,
            "{\"\u{e9}\u{10ffff}\":[\"\u{7ff}\u{800}\u{ffff}\u{10000}\"]}".as_bytes(),
        ];
        let alphabet =
            b"{}[]\",:\\/0123456789-+.eEtrufalsnbu \t\r\n\x00\x1f\x7f\xc3\xa9\xed\xa0\x80\xf4\x90\xff";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut random = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut accepted = 0;
        for round in 0..30_000 {
            let mut doc = seeds[round % seeds.len()].to_vec();
            for _ in 0..1 + random(4) {
                let at = random(doc.len() + 1);
                let byte = if random(2) == 0 { alphabet[random(alphabet.len())] } else { random(256) as u8 };
                match random(4) {
                    0 if at < doc.len() => doc[at] = byte,
                    1 => doc.insert(at, byte),
                    2 if at < doc.len() => {
                        doc.remove(at);
                    }
                    _ => {
                        let len = random(8).min(doc.len() - at);
                        let piece = doc[at..at + len].to_vec();
                        let to = random(doc.len() + 1);
                        doc.splice(to..to, piece);
                    }
                }
            }
            let Ok(v) = parse(&doc) else { continue };
            accepted += 1;
            // Whatever it accepted is UTF-8, reads back through every accessor, and what
            // that writes out parses to the same thing again.
            assert!(std::str::from_utf8(&doc).is_ok(), "{:?}", String::from_utf8_lossy(&doc));
            let mut once = Vec::new();
            dump(v, &mut once);
            let mut twice = Vec::new();
            dump(parse(&once).unwrap(), &mut twice);
            assert_eq!(once, twice);
        }
        // Enough of the mutants were valid for the walk to have been tried.
        assert!(accepted > 1_000, "{accepted}");
    }
}
