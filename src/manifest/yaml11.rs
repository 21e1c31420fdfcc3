//! How Kubernetes types a YAML scalar. The API server's YAML comes through `sigs.k8s.io/yaml`
//! on go-yaml v2, which types plain scalars by YAML 1.1 rules (`resolve.go`): `yes`, `on` and
//! `y` are booleans, `0644` is the octal integer 420, `1e3` is a float, `2001-12-14` a
//! timestamp, `~` null. Quoted scalars are strings; an explicit tag (`!!str 1`, `!!int "1"`,
//! `!!binary ...`) decides on its own.
//!
//! pullseal uses this to know whether a value it reads (a name, a namespace, an annotation, an
//! image) is the string the API server will see, and to compare documents by meaning after an
//! edit. This module must not parse YAML syntax; the parser gives it scalars.

use base64::Engine as _;

/// The long form of YAML's standard tags.
pub(crate) const YAML_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// A scalar as Kubernetes reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// `~`, `null`, nothing at all.
    Null,
    /// `true`, `yes`, `on`, `y` and their opposites, in the three spellings go-yaml knows.
    Bool(bool),
    /// An integer, canonical (decimal).
    Int(i128),
    /// A float, canonical.
    Float(String),
    /// A plain date or date-time, which the API server receives re-formatted.
    Timestamp,
    /// A string: quoted, plain and not any of the above, `!!str`, a local tag, or `!!binary`
    /// decoded.
    Str(String),
}

impl Scalar {
    /// What a value of this type is called in a diagnostic.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "null",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) => "an integer",
            Scalar::Float(_) => "a float",
            Scalar::Timestamp => "a timestamp",
            Scalar::Str(_) => "a string",
        }
    }
}

/// Why a scalar cannot be read at all (go-yaml refuses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScalarError(pub(crate) String);

/// Types a scalar: `value` as the parser decoded it, `plain` for the plain style, `tag` the
/// resolved tag (`tag:yaml.org,2002:str`, `!local`, or `!` for the non-specific tag).
pub(crate) fn resolve(value: &str, plain: bool, tag: Option<&str>) -> Result<Scalar, ScalarError> {
    match tag {
        // go-yaml gives quoted scalars without a tag the string type, and `!` the plain rules
        // of an untagged scalar (libyaml marks it plain-implicit).
        None if !plain => Ok(Scalar::Str(value.to_owned())),
        None | Some("!") => Ok(implicit(value)),
        Some(tag) => match tag.strip_prefix(YAML_TAG_PREFIX) {
            Some("binary") => binary(value),
            Some(short @ ("bool" | "int" | "float" | "null" | "timestamp")) => {
                let typed = implicit(value);
                let fits = matches!(
                    (short, &typed),
                    ("bool", Scalar::Bool(_))
                        | ("int", Scalar::Int(_))
                        | ("float", Scalar::Float(_))
                        | ("null", Scalar::Null)
                        | ("timestamp", Scalar::Timestamp)
                );
                match (short, typed) {
                    (_, typed) if fits => Ok(typed),
                    ("float", Scalar::Int(i)) => Ok(Scalar::Float(format!("{i}"))),
                    (_, typed) => Err(ScalarError(format!(
                        "{:?} is {} and cannot be read as !!{short}",
                        value,
                        typed.type_name()
                    ))),
                }
            }
            // `!!str`, and `!!map`, `!!seq` on a scalar, `!!merge`, `!!set` and other standard
            // tags that go-yaml does not resolve keep the text, as any unknown tag does.
            Some(_) | None => Ok(Scalar::Str(value.to_owned())),
        },
    }
}

/// go-yaml's `!!binary`: standard base64, line breaks ignored, decoding to the string.
fn binary(value: &str) -> Result<Scalar, ScalarError> {
    let compact: String = value.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| ScalarError("!!binary value is not valid base64".to_owned()))?;
    String::from_utf8(bytes)
        .map(Scalar::Str)
        .map_err(|_| ScalarError("!!binary value is not UTF-8 text".to_owned()))
}

/// The YAML 1.1 rules for an untagged plain scalar, as go-yaml v2 applies them.
fn implicit(value: &str) -> Scalar {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float("nan".to_owned()),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float("inf".to_owned()),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float("-inf".to_owned()),
        _ => {}
    }
    match value.as_bytes().first() {
        Some(b'.') if is_float(value) => return float(value),
        Some(b'0'..=b'9' | b'+' | b'-') => {
            if is_timestamp(value) {
                return Scalar::Timestamp;
            }
            let plain: String = value.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Scalar::Int(i);
            }
            if is_float(&plain) {
                return float(&plain);
            }
        }
        _ => {}
    }
    Scalar::Str(value.to_owned())
}

fn float(text: &str) -> Scalar {
    Scalar::Float(
        text.parse::<f64>()
            .map_or_else(|_| text.to_owned(), |f| format!("{f:?}")),
    )
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's float pattern.
fn is_float(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint`, then go-yaml's `0b` rule:
/// an optional sign, then `0x`/`0X` hex, `0o`/`0O` or a leading `0` octal, `0b`/`0B` binary,
/// or decimal.
fn go_parse_int(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..)?),
        Some(b'+') => (false, text.get(1..)?),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(d) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = rest.strip_prefix("0o").or_else(|| rest.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = rest.strip_prefix("0b").or_else(|| rest.strip_prefix("0B")) {
        (2, d)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, rest.get(1..)?)
    } else {
        (10, rest)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    let value = if negative {
        -i128::from(magnitude)
    } else {
        i128::from(magnitude)
    };
    // ParseInt takes [-2^63, 2^63); ParseUint adds [2^63, 2^64) for unsigned text.
    (value >= i128::from(i64::MIN)).then_some(value)
}

/// go-yaml's plain timestamps: `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (also with `t`),
/// `2006-1-2 15:4:5.999999999`, with real calendar dates.
fn is_timestamp(text: &str) -> bool {
    let mut c = Cursor { text, at: 0 };
    let date = (|| {
        let year = c.number(4, 4)?;
        c.eat(b'-')?;
        let month = c.number(1, 2)?;
        c.eat(b'-')?;
        let day = c.number(1, 2)?;
        ((1..=12).contains(&month) && (1..=days_in_month(year, month)).contains(&day)).then_some(())
    })();
    if date.is_none() {
        return false;
    }
    if c.done() {
        return true;
    }
    let zoned = match c.next() {
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        _ => return false,
    };
    let time = (|| {
        let hour = c.number(1, 2)?;
        c.eat(b':')?;
        let minute = c.number(1, 2)?;
        c.eat(b':')?;
        let second = c.number(1, 2)?;
        if c.eat(b'.').is_some() {
            c.number(1, 9)?;
        }
        (hour <= 23 && minute <= 59 && second <= 59).then_some(())
    })();
    if time.is_none() {
        return false;
    }
    if !zoned || c.done() {
        return c.done() && !zoned;
    }
    match c.rest() {
        "Z" => true,
        zone => {
            let mut z = Cursor { text: zone, at: 0 };
            matches!(z.next(), Some(b'+' | b'-'))
                && z.number(2, 2).is_some()
                && z.eat(b':').is_some()
                && z.number(2, 2).is_some()
                && z.done()
        }
    }
}

/// Reads a timestamp left to right.
struct Cursor<'t> {
    text: &'t str,
    at: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = self.text.as_bytes().get(self.at).copied()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.text.as_bytes().get(self.at) == Some(&want)).then(|| self.at += 1)
    }

    /// Between `min` and `max` decimal digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.at;
        while self.at - start < max && self.text.as_bytes().get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        if self.at - start < min {
            return None;
        }
        self.text.get(start..self.at)?.parse().ok()
    }

    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn rest(&self) -> &str {
        self.text.get(self.at..).unwrap_or("")
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Scalar {
        resolve(s, true, None).unwrap()
    }

    #[test]
    fn yaml_1_1_plain_scalars() {
        for s in ["yes", "Y", "on", "ON", "True"] {
            assert_eq!(plain(s), Scalar::Bool(true), "{s}");
        }
        for s in ["no", "n", "off", "FALSE"] {
            assert_eq!(plain(s), Scalar::Bool(false), "{s}");
        }
        for s in ["", "~", "null", "NULL"] {
            assert_eq!(plain(s), Scalar::Null, "{s}");
        }
        assert_eq!(plain("0644"), Scalar::Int(420));
        assert_eq!(plain("0o644"), Scalar::Int(420));
        assert_eq!(plain("0x1F"), Scalar::Int(31));
        assert_eq!(plain("-0b101"), Scalar::Int(-5));
        assert_eq!(plain("1_000"), Scalar::Int(1000));
        assert_eq!(plain("+12"), Scalar::Int(12));
        assert_eq!(plain("18446744073709551615"), Scalar::Int(i128::from(u64::MAX)));
        assert!(matches!(plain("08"), Scalar::Float(_)), "not octal, but a float");
        assert!(matches!(plain("1e3"), Scalar::Float(_)));
        assert!(matches!(plain(".5"), Scalar::Float(_)));
        assert!(matches!(plain(".inf"), Scalar::Float(_)));
        assert_eq!(plain("2001-12-14"), Scalar::Timestamp);
        assert_eq!(plain("2001-12-14t21:59:43.10Z"), Scalar::Timestamp);
        assert_eq!(plain("2001-12-14 21:59:43.10"), Scalar::Timestamp);
        for s in [
            "2001-02-30",
            "2001-12-14 21:59:43.10 -5",
            "1.2.3",
            "0x",
            "yess",
            "12:30",
            "shop",
            "e3",
            "-",
        ] {
            assert_eq!(plain(s), Scalar::Str(s.to_owned()), "{s}");
        }
    }

    #[test]
    fn quoting_and_tags() {
        assert_eq!(
            resolve("yes", false, None).unwrap(),
            Scalar::Str("yes".to_owned())
        );
        assert_eq!(
            resolve("1", true, Some("tag:yaml.org,2002:str")).unwrap(),
            Scalar::Str("1".to_owned())
        );
        assert_eq!(
            resolve("12", false, Some("tag:yaml.org,2002:int")).unwrap(),
            Scalar::Int(12)
        );
        assert_eq!(resolve("on", true, Some("!")).unwrap(), Scalar::Bool(true));
        assert_eq!(
            resolve("on", true, Some("!local")).unwrap(),
            Scalar::Str("on".to_owned())
        );
        assert_eq!(
            resolve("U2VjcmV0", true, Some("tag:yaml.org,2002:binary")).unwrap(),
            Scalar::Str("Secret".to_owned())
        );
        let err = resolve("abc", true, Some("tag:yaml.org,2002:int")).unwrap_err();
        insta::assert_snapshot!(err.0, @r#""abc" is a string and cannot be read as !!int"#);
        let err = resolve("***", true, Some("tag:yaml.org,2002:binary")).unwrap_err();
        insta::assert_snapshot!(err.0, @"!!binary value is not valid base64");
    }
}
